//! A minimal HTTP/1.1 client for the import route: one `GET` to a loopback URL, the answer's
//! body read through the same [`Body`](super::Body) framing as requests.
//!
//! Only `http://127.0.0.1[:port]` and `http://localhost[:port]` are reachable: the emulator
//! never sends traffic anywhere else, and `localhost` is not looked up (it is 127.0.0.1).

use std::io::{self, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use super::framing::{ResponseHead, read_response_head};

/// Where a loopback URL points.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LocalUrl {
    pub addr: SocketAddr,
    /// The `Host` header value.
    pub host: String,
    /// Origin-form target: path and query.
    pub target: String,
}

/// Parses `http://127.0.0.1[:port]/...` or `http://localhost[:port]/...`; anything else is
/// refused with a reason.
pub(crate) fn local_url(url: &str) -> Result<LocalUrl, String> {
    let scheme_end = url.find("://").ok_or("not an absolute URL")?;
    if !url[..scheme_end].eq_ignore_ascii_case("http") {
        return Err("only http:// URLs on 127.0.0.1 or localhost can be imported".into());
    }
    let rest = &url[scheme_end + 3..];
    let rest = rest.split('#').next().unwrap_or("");
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, target) = rest.split_at(split);
    if authority.contains('@') {
        return Err("URLs with credentials are refused".into());
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("bad port in {authority:?}"))?,
        ),
        None => (authority, 80),
    };
    if !(host == "127.0.0.1" || host.eq_ignore_ascii_case("localhost")) {
        return Err(format!(
            "the emulator only imports from 127.0.0.1 or localhost, not {host:?}"
        ));
    }
    let target = match target {
        "" => "/".to_string(),
        t if t.starts_with('?') => format!("/{t}"),
        t => t.to_string(),
    };
    if target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err("the URL has spaces or control characters".into());
    }
    Ok(LocalUrl {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        host: authority.to_string(),
        target,
    })
}

/// Sends `GET` and reads the answer's head. `register` sees the socket once connected (so
/// a shutdown can cut a fetch that hangs).
pub(crate) fn get(
    url: &LocalUrl,
    user_agent: &str,
    timeout: Duration,
    register: impl FnOnce(&TcpStream),
) -> io::Result<(BufReader<TcpStream>, ResponseHead)> {
    let mut stream = TcpStream::connect_timeout(&url.addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    register(&stream);
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {user_agent}\r\nAccept: */*\r\n\
         Connection: close\r\n\r\n",
        url.target, url.host
    );
    stream.write_all(request.as_bytes())?;
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let head = read_response_head(&mut reader)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no valid HTTP answer"))?;
    Ok((reader, head))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_urls_are_allowed() {
        let u = local_url("http://127.0.0.1:8080/a/b.png?x=1#frag").unwrap_or_else(|e| {
            panic!("{e}");
        });
        assert_eq!(u.addr, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(u.host, "127.0.0.1:8080");
        assert_eq!(u.target, "/a/b.png?x=1");
        let u = local_url("HTTP://LocalHost?q").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(u.addr.port(), 80);
        assert_eq!(u.target, "/?q");
        for bad in [
            "https://127.0.0.1/a",
            "http://example.com/a.png",
            "http://127.0.0.2/a",
            "http://[::1]:80/a",
            "http://user@127.0.0.1/a",
            "http://127.0.0.1:99999/a",
            "http://127.0.0.1/a b",
            "ftp://localhost/a",
            "/relative",
        ] {
            assert!(local_url(bad).is_err(), "{bad}");
        }
    }
}
