"""What token_server.py and fault_proxy.py share: serving on 127.0.0.1 at a port the kernel
picks, written to a file for the test that started them."""
import http.server
import os
import ssl


def serve_forever(handler, port_file, tls=None):
    """Serves handler on 127.0.0.1:0 (HTTPS when tls = {"cert", "key"}, demanding a client
    certificate signed by tls["client_ca"] if given); the port goes to port_file
    atomically, so a reader never sees half of it."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls["cert"], tls["key"])
        if tls.get("client_ca"):
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(tls["client_ca"])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, port_file)
    server.serve_forever()
