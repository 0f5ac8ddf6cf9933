//! The HTTP/1.1 client side of the load generators: one keep-alive connection per task, opened
//! again when the server closes it, and one request at a time on it with a timeout.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::HeaderValue;
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Where and how to send.
#[derive(Debug)]
pub struct Target {
    /// The server's address.
    pub addr: SocketAddr,
    /// The `Host` header.
    pub host: HeaderValue,
    /// The path (and query) of the URL.
    pub path: Uri,
    /// A request without an answer after this long is a transport error.
    pub timeout: Duration,
}

impl Target {
    /// Resolves a plain `http://` URL.
    pub async fn resolve(url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let uri: Uri = url.parse().with_context(|| format!("URL {url}"))?;
        if uri.scheme_str() != Some("http") {
            bail!("{url}: only plain http:// URLs are supported");
        }
        let authority = uri.authority().context("the URL has no host")?;
        let port = authority.port_u16().unwrap_or(80);
        let addr = tokio::net::lookup_host((authority.host(), port))
            .await
            .with_context(|| format!("resolving {}", authority.host()))?
            .next()
            .with_context(|| format!("{} resolves to no address", authority.host()))?;
        let path: Uri = uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse()
            .context("the URL's path")?;
        Ok(Self {
            addr,
            host: HeaderValue::from_str(authority.as_str())?,
            path,
            timeout,
        })
    }
}

/// A connection to the target, as a sender of requests.
pub type Sender = SendRequest<Full<Bytes>>;

/// One connection slot of a load task: the open connection, if any, and whether it ever
/// connected (so that a new connection counts as a reconnect).
#[derive(Debug, Default)]
pub struct Slot {
    sender: Option<Sender>,
    connected_before: bool,
}

impl Slot {
    /// The slot's connection, ready for a request; reconnects (counting it in `reconnects`)
    /// when the server closed it.
    pub async fn ready(
        &mut self,
        target: &Target,
        reconnects: &mut u64,
    ) -> Result<Sender, &'static str> {
        if let Some(mut sender) = self.sender.take()
            && sender.ready().await.is_ok()
        {
            return Ok(sender);
        }
        if self.connected_before {
            *reconnects += 1;
        }
        let mut sender = connect(target).await.map_err(|_| "connect failed")?;
        self.connected_before = true;
        sender.ready().await.map_err(|_| "connection closed")?;
        Ok(sender)
    }

    /// Gives back a connection that answered, for the next request.
    pub fn keep(&mut self, sender: Sender) {
        self.sender = Some(sender);
    }
}

/// Opens a keep-alive connection (with `TCP_NODELAY`).
pub async fn connect(target: &Target) -> anyhow::Result<Sender> {
    let stream = TcpStream::connect(target.addr)
        .await
        .with_context(|| format!("connecting to {}", target.addr))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // Errors surface on the request that was in flight.
        drop(connection.await);
    });
    Ok(sender)
}

/// Sends one request and reads the whole answer; the error is the kind of transport error.
pub async fn exchange(
    sender: &mut Sender,
    request: Request<Full<Bytes>>,
    timeout: Duration,
) -> Result<(StatusCode, Bytes), &'static str> {
    let exchange = async {
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok::<_, hyper::Error>((status, body))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) if e.is_incomplete_message() => Err("connection closed mid-request"),
        Ok(Err(e)) if e.is_canceled() => Err("request canceled"),
        Ok(Err(_)) => Err("http error"),
        Err(_) => Err("timeout"),
    }
}
