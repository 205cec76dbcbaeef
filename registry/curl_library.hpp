// libcurl, opened with dlopen on first use instead of linked into kiln. Linked, libcurl
// and the ~25 libraries it needs (TLS, Kerberos, LDAP, HTTP/2, IDN, ...) are loaded and
// relocated at the start of every kiln process, ~8 ms on the project machine, which
// `kiln run`, `exec` and `ps` (none of which talk to a registry) would pay each time.
#pragma once

#include <curl/curl.h>

namespace kiln::registry {

// The libcurl functions kiln calls, resolved from libcurl.so.4. The types come from
// curl.h itself, so a mismatch with the header kiln was compiled against cannot compile.
struct CurlLibrary {
    decltype(&::curl_global_init) global_init;
    decltype(&::curl_easy_init) easy_init;
    decltype(&::curl_easy_setopt) easy_setopt;
    decltype(&::curl_easy_getinfo) easy_getinfo;
    decltype(&::curl_easy_perform) easy_perform;
    decltype(&::curl_easy_reset) easy_reset;
    decltype(&::curl_easy_cleanup) easy_cleanup;
    decltype(&::curl_easy_strerror) easy_strerror;
    decltype(&::curl_share_init) share_init;
    decltype(&::curl_share_setopt) share_setopt;
    decltype(&::curl_share_cleanup) share_cleanup;
    decltype(&::curl_slist_append) slist_append;
    decltype(&::curl_slist_free_all) slist_free_all;
    decltype(&::curl_url) url;
    decltype(&::curl_url_cleanup) url_cleanup;
    decltype(&::curl_url_get) url_get;
    decltype(&::curl_url_set) url_set;
    decltype(&::curl_free) free;
};

// Loads libcurl the first time (thread-safe); throws kiln::Error if it cannot.
const CurlLibrary& curl();

}  // namespace kiln::registry
