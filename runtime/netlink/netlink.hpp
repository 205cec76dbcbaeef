#pragma once
// The few rtnetlink requests kiln's bridge network needs (links, addresses, a default
// route), over a NETLINK_ROUTE socket: no `ip` subprocess on the path of every `run`.
// Depends on libc alone, so kiln-monitor can link it to delete a container's veth.
// Failures throw std::system_error carrying the kernel's errno.
#include <cstdint>
#include <string>

namespace kiln::netlink {

class Socket {
public:
    // A socket in the calling thread's network namespace; it keeps talking to that
    // namespace wherever the thread goes afterwards.
    Socket();
    ~Socket();
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;

    // 0 when no link of that name exists.
    int link_index(const std::string& name);
    void create_bridge(const std::string& name);
    // A veth pair: host_name stays here, enslaved to master_index; its peer is created
    // inside the namespace netns_fd refers to, as peer_name with the MAC peer_mac.
    void create_veth(const std::string& host_name, int master_index, const std::string& peer_name, int netns_fd,
                     const unsigned char (&peer_mac)[6]);
    void set_up(int index);
    // Deletes the link; false if there was none.
    bool delete_link(const std::string& name);
    // An IPv4 address (network byte order) with its prefix length.
    void add_address(int index, std::uint32_t address, int prefix_len);
    void add_default_route(std::uint32_t gateway);

private:
    int request(void* message, unsigned length, const std::string& what, int tolerated = 0);
    int fd_ = -1;
    std::uint32_t seq_ = 0;
};

}  // namespace kiln::netlink
