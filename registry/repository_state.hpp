#pragma once
// registry/ internals: a Repository's endpoints and how an operation moves along them.
#include <memory>
#include <string>
#include <vector>

#include "registry/client.hpp"
#include "registry/transport.hpp"

namespace kiln::registry {

// A mirror that answered but could not serve this request: try the next endpoint.
class MirrorMiss : public Error {
public:
    using Error::Error;
};

struct Repository::State {
    Session& session;
    std::string domain;
    std::string path;
    Access access;
    std::vector<std::unique_ptr<Transport>> transports;  // mirrors first, the registry last

    State(Session& s, const image::Reference& ref, Access a);

    std::string api(const std::string& suffix) const { return "/v2/" + path + suffix; }
    Transport& origin() { return *transports.back(); }

    // Runs op(transport, is_last) on the first endpoint that can serve it: a mirror that does
    // not connect is marked dead for the session (and skipped from then on); one that answers
    // MirrorMiss is skipped for this operation. The registry itself is always tried last.
    template <typename Op>
    auto with_endpoint(Op&& op) -> decltype(op(std::declval<Transport&>(), true)) {
        auto& state = session.state();
        for (std::size_t i = 0; i < transports.size(); ++i) {
            Transport& t = *transports[i];
            bool last = i + 1 == transports.size();
            if (!last && state.mirror_dead(t.endpoint().base)) continue;
            try {
                return op(t, last);
            } catch (const EndpointDown&) {
                state.mark_mirror_dead(t.endpoint().base);
                if (last) throw;
            } catch (const MirrorMiss&) {
                if (last) throw;
            }
        }
        throw Error("registry " + domain + ": no endpoint to try");
    }
};

// Checks a tag or digest before it goes into a URL path.
void check_reference_text(const std::string& reference);

}  // namespace kiln::registry
