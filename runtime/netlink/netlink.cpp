#include "runtime/netlink/netlink.hpp"

#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace kiln::netlink {

namespace {

[[noreturn]] void fail(int err, const std::string& what) { throw std::system_error(err, std::generic_category(), what); }

// One request: a netlink header, its family header, then attributes (nested ones too).
struct Message {
    alignas(NLMSG_ALIGNTO) unsigned char buf[1024] = {};
    nlmsghdr* header() { return reinterpret_cast<nlmsghdr*>(buf); }

    Message(std::uint16_t type, std::uint16_t flags, const void* family, std::size_t family_len) {
        header()->nlmsg_type = type;
        header()->nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | NLM_F_ACK | flags);
        header()->nlmsg_len = static_cast<std::uint32_t>(NLMSG_LENGTH(family_len));
        std::memcpy(NLMSG_DATA(header()), family, family_len);
    }
    rtattr* put(std::uint16_t type, const void* data, std::size_t len) {
        std::size_t at = NLMSG_ALIGN(header()->nlmsg_len);
        std::size_t total = RTA_LENGTH(len);
        if (at + RTA_ALIGN(total) > sizeof buf) fail(EMSGSIZE, "netlink request");
        auto* attr = reinterpret_cast<rtattr*>(buf + at);
        attr->rta_type = type;
        attr->rta_len = static_cast<std::uint16_t>(total);
        if (len) std::memcpy(RTA_DATA(attr), data, len);
        header()->nlmsg_len = static_cast<std::uint32_t>(at + RTA_ALIGN(total));
        return attr;
    }
    void put_string(std::uint16_t type, const std::string& s) { put(type, s.c_str(), s.size() + 1); }
    void put_u32(std::uint16_t type, std::uint32_t v) { put(type, &v, sizeof v); }
    rtattr* begin_nested(std::uint16_t type) { return put(type, nullptr, 0); }
    void end_nested(rtattr* attr) {
        attr->rta_len = static_cast<std::uint16_t>(buf + header()->nlmsg_len - reinterpret_cast<unsigned char*>(attr));
    }
    // Appends a family header inside a nested attribute (veth's peer carries an ifinfomsg).
    void put_raw(const void* data, std::size_t len) {
        std::size_t at = NLMSG_ALIGN(header()->nlmsg_len);
        std::memcpy(buf + at, data, len);
        header()->nlmsg_len = static_cast<std::uint32_t>(at + NLMSG_ALIGN(len));
    }
};

ifinfomsg link_header(int index = 0) {
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    ifi.ifi_index = index;
    return ifi;
}

}  // namespace

Socket::Socket() {
    fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd_ < 0) fail(errno, "netlink socket");
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
        int err = errno;
        ::close(fd_);
        fail(err, "bind netlink socket");
    }
}

Socket::~Socket() { ::close(fd_); }

// Sends one request and reads the kernel's answer: 0 for an acknowledgement, the index
// of the link a RTM_GETLINK found, -1 for the error `tolerated`; throws for other errors.
int Socket::request(void* message, unsigned length, const std::string& what, int tolerated) {
    auto* header = static_cast<nlmsghdr*>(message);
    header->nlmsg_seq = ++seq_;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd_, message, length, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) fail(errno, what);
    alignas(NLMSG_ALIGNTO) unsigned char reply[8192];
    for (;;) {
        ssize_t n = ::recv(fd_, reply, sizeof reply, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail(errno, what);
        int left = static_cast<int>(n);
        for (auto* h = reinterpret_cast<nlmsghdr*>(reply); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
            if (h->nlmsg_seq != seq_) continue;
            if (h->nlmsg_type == RTM_NEWLINK) return static_cast<ifinfomsg*>(NLMSG_DATA(h))->ifi_index;
            if (h->nlmsg_type != NLMSG_ERROR) continue;
            int err = -static_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
            if (err == 0) return 0;
            if (err == tolerated) return -1;
            fail(err, what);
        }
    }
}

int Socket::link_index(const std::string& name) {
    ifinfomsg ifi = link_header();
    Message m(RTM_GETLINK, 0, &ifi, sizeof ifi);
    m.header()->nlmsg_flags = NLM_F_REQUEST;  // the link itself answers, no acknowledgement
    m.put_string(IFLA_IFNAME, name);
    return std::max(0, request(m.buf, m.header()->nlmsg_len, "look up link " + name, ENODEV));
}

void Socket::create_bridge(const std::string& name) {
    ifinfomsg ifi = link_header();
    Message m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof ifi);
    m.put_string(IFLA_IFNAME, name);
    rtattr* info = m.begin_nested(IFLA_LINKINFO);
    m.put_string(IFLA_INFO_KIND, "bridge");
    m.end_nested(info);
    request(m.buf, m.header()->nlmsg_len, "create bridge " + name);
}

void Socket::create_veth(const std::string& host_name, int master_index, const std::string& peer_name, int netns_fd,
                         const unsigned char (&peer_mac)[6]) {
    ifinfomsg ifi = link_header();
    Message m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof ifi);
    m.put_string(IFLA_IFNAME, host_name);
    m.put_u32(IFLA_MASTER, static_cast<std::uint32_t>(master_index));
    rtattr* info = m.begin_nested(IFLA_LINKINFO);
    m.put_string(IFLA_INFO_KIND, "veth");
    rtattr* data = m.begin_nested(IFLA_INFO_DATA);
    rtattr* peer = m.begin_nested(VETH_INFO_PEER);
    ifinfomsg peer_ifi = link_header();
    m.put_raw(&peer_ifi, sizeof peer_ifi);
    m.put_string(IFLA_IFNAME, peer_name);
    m.put_u32(IFLA_NET_NS_FD, static_cast<std::uint32_t>(netns_fd));
    m.put(IFLA_ADDRESS, peer_mac, 6);
    m.end_nested(peer);
    m.end_nested(data);
    m.end_nested(info);
    request(m.buf, m.header()->nlmsg_len, "create veth " + host_name);
}

void Socket::set_up(int index) {
    ifinfomsg ifi = link_header(index);
    ifi.ifi_flags = IFF_UP;
    ifi.ifi_change = IFF_UP;
    Message m(RTM_NEWLINK, 0, &ifi, sizeof ifi);
    request(m.buf, m.header()->nlmsg_len, "set link up");
}

bool Socket::delete_link(const std::string& name) {
    ifinfomsg ifi = link_header();
    Message m(RTM_DELLINK, 0, &ifi, sizeof ifi);
    m.put_string(IFLA_IFNAME, name);
    return request(m.buf, m.header()->nlmsg_len, "delete link " + name, ENODEV) == 0;
}

void Socket::add_address(int index, std::uint32_t address, int prefix_len) {
    ifaddrmsg ifa{};
    ifa.ifa_family = AF_INET;
    ifa.ifa_prefixlen = static_cast<unsigned char>(prefix_len);
    ifa.ifa_index = static_cast<unsigned>(index);
    Message m(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, &ifa, sizeof ifa);
    m.put(IFA_LOCAL, &address, 4);
    m.put(IFA_ADDRESS, &address, 4);
    request(m.buf, m.header()->nlmsg_len, "add address");
}

void Socket::add_default_route(std::uint32_t gateway) {
    rtmsg rt{};
    rt.rtm_family = AF_INET;
    rt.rtm_table = RT_TABLE_MAIN;
    rt.rtm_protocol = RTPROT_BOOT;
    rt.rtm_scope = RT_SCOPE_UNIVERSE;
    rt.rtm_type = RTN_UNICAST;
    Message m(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &rt, sizeof rt);
    m.put(RTA_GATEWAY, &gateway, 4);
    request(m.buf, m.header()->nlmsg_len, "add default route");
}

}  // namespace kiln::netlink
