#pragma once
// The wire between kiln-monitor and `kiln attach` / `kiln start -a` (header-only: the
// monitor links nothing of kiln's). One stream socket per attach client, carrying frames
// in both directions: a type byte, a 4-byte little-endian payload length, the payload.
//
// The socket lives in ATTACH_DIR inside the container's folder in the store (mode 0700,
// the socket 0600): only root on the host reaches it; nothing of the store is mounted in
// a container. A socket path may not exceed 107 bytes, which a deep store root does, so
// both ends name it through an O_PATH descriptor of the directory (/proc/self/fd/N/...).
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::runtime::attach {

inline constexpr const char* socket_dir = "attach";  // in the container's folder
inline constexpr const char* socket_name = "attach.sock";

enum class Frame : char {
    // monitor → client
    stdout_data = 'o',
    stderr_data = 'e',
    exited = 'x',  // payload: the container's exit code, decimal
    // client → monitor
    stdin_data = 'i',
    stdin_close = 'c',  // the client's stdin ended (closes the container's stdin only for StdinOnce)
    window = 'w',       // payload: "ROWS COLS", decimal
    signal = 's',       // payload: a signal number, decimal (--sig-proxy)
};

// Anything longer is a broken or hostile peer, which is dropped.
inline constexpr std::size_t max_payload = 1 << 16;

inline void append_frame(std::string& out, Frame type, std::string_view payload) {
    const auto size = static_cast<std::uint32_t>(payload.size());
    out.push_back(static_cast<char>(type));
    for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<char>((size >> shift) & 0xff));
    out.append(payload);
}

// Reassembles frames from whatever pieces the socket delivers.
class FrameReader {
public:
    void feed(std::string_view data) { buffer_.append(data); }
    // The next complete frame, if there is one. Sets broken() on an oversized frame.
    std::optional<std::pair<Frame, std::string>> next() {
        if (broken_ || buffer_.size() < 5) return std::nullopt;
        std::uint32_t size = 0;
        for (int i = 0; i < 4; ++i) size |= static_cast<std::uint32_t>(static_cast<unsigned char>(buffer_[1 + i])) << (8 * i);
        if (size > max_payload) {
            broken_ = true;
            return std::nullopt;
        }
        if (buffer_.size() < 5 + size) return std::nullopt;
        std::pair<Frame, std::string> frame{static_cast<Frame>(buffer_[0]), buffer_.substr(5, size)};
        buffer_.erase(0, 5 + size);
        return frame;
    }
    bool broken() const { return broken_; }

private:
    std::string buffer_;
    bool broken_ = false;
};

// "/proc/self/fd/N/attach.sock" for the attach directory open as dir_fd: short enough for
// sockaddr_un whatever the store's path is.
inline std::string socket_path_via(int dir_fd) {
    return "/proc/self/fd/" + std::to_string(dir_fd) + "/" + socket_name;
}

}  // namespace kiln::runtime::attach
