/** A command that forks busy loops for a while, then prints the CPU seconds they used together. */
export const BURN = (procs: number, seconds: number) =>
  `python3 -c "
import os, time
for i in range(${procs}):
    if os.fork() == 0:
        end = time.time() + ${seconds}
        while time.time() < end: pass
        os._exit(0)
for i in range(${procs}): os.wait()
t = os.times()
print(t.children_user + t.children_system)
"`
