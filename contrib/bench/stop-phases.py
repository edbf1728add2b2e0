#!/usr/bin/env python3
"""The phases of each `vsctl stop --fast` in a `perf trace -p VSD` log, as
contrib/bench/stop.sh writes with STOP_PERF=FILE: stop-phases.py FILE.

From vsd's receipt of the request to its reply on the client's socket:
req>kill (to the SIGKILL), kill>exit (to the waitid: the kernel's kill and
exit of the init), stats (the OOM count), cgkill (cgroup.kill), rmdirs (the
cgroups), nft (libnftables' round trips, where still before the reply),
veth (the rename for the reaper), state (the state file, where still
before the reply). perf trace adds some 10 to 20 us to every syscall."""
import re
import statistics as st
import sys

ev=[]
for line in open(sys.argv[1]):
    m=re.match(r'\s*([\d.]+) \(\s*([\d.]+) ms\): (\w+)\((.*)',line)
    if m: ev.append((float(m.group(1)),float(m.group(2)),m.group(3),m.group(4)))
ph={k:[] for k in ['req>kill','kill>exit','stats','cgkill','rmdirs','nft','veth','state','reply','total']}
i=0
while i<len(ev):
    t,d,n,a=ev[i]
    if n=='pidfd_send_signal' and 'sig: 9' in a:
        # find request recv before
        j=i
        while j>0 and not (ev[j][2]=='recvmsg' and 'CMSG_CLOEXEC' in ev[j][3]): j-=1
        treq=ev[j][0]; tk=t
        k=i
        marks={}
        while k<len(ev) and not (ev[k][2]=='sendmsg' and 'NOSIGNAL' in ev[k][3] and 'fd: 11' in ev[k][3]):
            n2,a2=ev[k][2],ev[k][3]
            if n2=='waitid' and 'exit' not in marks: marks['exit']=ev[k][0]
            if n2=='write' and 'count: 1)' in a2 and 'cgkill' not in marks: marks['cgkill']=ev[k][0]; marks['cgkill_end']=ev[k][0]+ev[k][1]
            if n2=='unlinkat' and 'flag: 512' in a2: marks['rmdir_end']=ev[k][0]+ev[k][1]
            if n2=='sendto' and 'nft0' not in marks: marks['nft0']=ev[k][0]
            if n2=='pselect6': marks['nft1']=ev[k][0]
            if n2=='renameat': marks['state0']=ev[k][0]
            k+=1
        if k>=len(ev): break
        tr=ev[k][0]
        e=marks.get('exit',tk); ck=marks.get('cgkill',e); cke=marks.get('cgkill_end',ck); rm=marks.get('rmdir_end',cke)
        n0=marks.get('nft0',rm); n1=marks.get('nft1',n0); s0=marks.get('state0',n1)
        ph['req>kill'].append(tk-treq); ph['kill>exit'].append(e-tk); ph['stats'].append(ck-e)
        ph['cgkill'].append(cke-ck); ph['rmdirs'].append(rm-cke); ph['nft'].append(n1-n0)
        ph['veth'].append(s0-n1); ph['state'].append(tr-s0); ph['total'].append(tr-treq)
        i=k
    i+=1
print('stops:',len(ph['total']))
for k,v in ph.items():
    if v: print('%-10s median %6.2f ms  (%.2f..%.2f)'%(k,st.median(v),min(v),max(v)))
