#pragma once
// Signals and waits for recorded containers from any kiln process (`kill`, `stop`,
// `wait`, `rm -f`): through a pidfd of the container's init, checked to be that
// container's (its cgroup names the id), so a reused pid is never signalled.
#include <string>

#include "runtime/container_records.hpp"
#include "util/fd.hpp"

namespace kiln::runtime {

// A pidfd of the container's init, or none if it does not run or the recorded pid is no
// longer that container's (its cgroup is checked after the pidfd is open, so the answer
// holds for the pidfd's whole life).
UniqueFd open_container_init(const ContainerRow& row);

// Sends sig to the container's init, then thaws it if it is paused. False if it does not run.
bool signal_container(const ContainerRow& row, int sig);

// Waits until the container has stopped and its monitor has recorded the exit, at most
// timeout_ms (-1: forever). True once it has stopped.
bool wait_container_stopped(const ContainerRow& row, int timeout_ms);

// Docker's stop: sig (the container's STOPSIGNAL by default), then SIGKILL after
// timeout_s seconds (-1: wait forever). Returns once it has stopped.
void stop_container(const ContainerRow& row, int sig, int timeout_s);

}  // namespace kiln::runtime
