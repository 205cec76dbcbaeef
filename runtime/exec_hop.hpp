#pragma once
// kiln-exec (runtime/hop/kiln_exec.cpp says why) as a sealed memfd: its bytes are linked
// into kiln, copied once per process into a memfd that is then sealed against every
// write, resize and further sealing. A container process may reach it through
// /proc/PID/exe of the hop; it can neither change it nor reach the kiln binary through it.
namespace kiln::runtime {

// The memfd's descriptor (close-on-exec), made on first use; throws kiln::Error if the
// kernel refuses one.
int exec_hop_fd();

}  // namespace kiln::runtime
