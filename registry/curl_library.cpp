#include "registry/curl_library.hpp"

#include <dlfcn.h>

#include <string>

#include "util/error.hpp"

namespace kiln::registry {

namespace {

// The soname of libcurl's current ABI (4 since 2006).
constexpr const char* libcurl_soname = "libcurl.so.4";

template <typename Function>
void resolve(void* handle, const char* name, Function& out) {
    void* symbol = ::dlsym(handle, name);
    if (!symbol) throw Error(std::string(libcurl_soname) + " has no " + name + ": libcurl is too old for kiln");
    out = reinterpret_cast<Function>(symbol);
}

CurlLibrary load() {
    // Never closed: curl's global state lives until the process ends.
    void* handle = ::dlopen(libcurl_soname, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char* why = ::dlerror();
        throw Error(std::string("cannot load libcurl (needed to reach registries): ") + (why ? why : libcurl_soname));
    }
    CurlLibrary lib{};
    resolve(handle, "curl_global_init", lib.global_init);
    resolve(handle, "curl_easy_init", lib.easy_init);
    resolve(handle, "curl_easy_setopt", lib.easy_setopt);
    resolve(handle, "curl_easy_getinfo", lib.easy_getinfo);
    resolve(handle, "curl_easy_perform", lib.easy_perform);
    resolve(handle, "curl_easy_reset", lib.easy_reset);
    resolve(handle, "curl_easy_cleanup", lib.easy_cleanup);
    resolve(handle, "curl_easy_strerror", lib.easy_strerror);
    resolve(handle, "curl_share_init", lib.share_init);
    resolve(handle, "curl_share_setopt", lib.share_setopt);
    resolve(handle, "curl_share_cleanup", lib.share_cleanup);
    resolve(handle, "curl_slist_append", lib.slist_append);
    resolve(handle, "curl_slist_free_all", lib.slist_free_all);
    resolve(handle, "curl_url", lib.url);
    resolve(handle, "curl_url_cleanup", lib.url_cleanup);
    resolve(handle, "curl_url_get", lib.url_get);
    resolve(handle, "curl_url_set", lib.url_set);
    resolve(handle, "curl_free", lib.free);
    return lib;
}

}  // namespace

const CurlLibrary& curl() {
    static const CurlLibrary lib = load();
    return lib;
}

}  // namespace kiln::registry
