//! A small HTTP/1.1 client for the web view, on hyper's own client: a browser-like session that
//! keeps the session cookie the server sets and sends what a browser sends (Accept, Origin on
//! posts), or a script with an `Authorization` header; and a reader of server-sent events.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::{
    HeaderMap, Method, Request, StatusCode,
    body::{Bytes, Incoming},
    header,
};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::{TlsConnector, rustls};

/// How long any request or event may take.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// One answer, read whole.
#[derive(Debug)]
pub struct Answer {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: String,
}

impl Answer {
    /// The header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The `value` of the hidden `csrf` field of the page's first form.
    pub fn csrf(&self) -> String {
        attribute_after(&self.body, r#"name="csrf" value=""#).expect("a form with a csrf field")
    }
}

/// The text from `marker` to the next quote in `html`.
pub fn attribute_after(html: &str, marker: &str) -> Option<String> {
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// A browser (or a script) talking to one web view.
#[derive(Clone)]
pub struct Browser {
    addr: SocketAddr,
    tls: Option<(TlsConnector, rustls::pki_types::ServerName<'static>)>,
    /// The session cookie (`amicopy_session=...`), once the server set one.
    pub cookie: Option<String>,
    /// An `Authorization` header value to send, for a script.
    pub authorization: Option<String>,
    /// The `Origin` posts carry; the web view's own unless a test says otherwise.
    pub origin: String,
}

impl Browser {
    /// A browser of the web view at `addr`, in plain HTTP.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            tls: None,
            cookie: None,
            authorization: None,
            origin: format!("http://{addr}"),
        }
    }

    /// A browser over TLS with `config` (its roots and, for mTLS, its client certificate).
    pub fn tls(addr: SocketAddr, config: rustls::ClientConfig) -> Self {
        Self {
            addr,
            tls: Some((
                TlsConnector::from(Arc::new(config)),
                rustls::pki_types::ServerName::try_from("localhost").expect("a server name"),
            )),
            cookie: None,
            authorization: None,
            origin: format!("https://{addr}"),
        }
    }

    /// A script: no cookies, an `Authorization: Bearer` header.
    pub fn script(addr: SocketAddr, token: &str) -> Self {
        Self {
            authorization: Some(format!("Bearer {token}")),
            ..Self::new(addr)
        }
    }

    /// `GET path` as a browser viewing a page.
    pub async fn get(&mut self, path: &str) -> Answer {
        let request = self
            .request(Method::GET, path, "text/html")
            .body(empty())
            .expect("a request");
        self.send(request).await
    }

    /// `POST path` with a form of `fields`, from the web view's own page.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let body = fields
            .iter()
            .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
            .collect::<Vec<_>>()
            .join("&");
        let request = self
            .request(Method::POST, path, "text/html")
            .header(header::ORIGIN, self.origin.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(full(body))
            .expect("a request");
        self.send(request).await
    }

    /// A request builder with the browser's headers.
    pub fn request(&self, method: Method, path: &str, accept: &str) -> hyper::http::request::Builder {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, self.addr.to_string())
            .header(header::ACCEPT, accept);
        if let Some(cookie) = &self.cookie {
            builder = builder.header(header::COOKIE, cookie.clone());
        }
        if let Some(authorization) = &self.authorization {
            builder = builder.header(header::AUTHORIZATION, authorization.clone());
        }
        builder
    }

    /// Sends `request`, keeps a session cookie the answer sets, and reads the answer whole.
    pub async fn send(&mut self, request: Request<BoxBody<Bytes, hyper::Error>>) -> Answer {
        let response = self.open(request).await;
        let status = response.status();
        let headers = response.headers().clone();
        self.keep_cookie(&headers);
        let body = tokio::time::timeout(DEADLINE, response.into_body().collect())
            .await
            .expect("the body arrives in time")
            .expect("a body")
            .to_bytes();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// Opens the event stream at `path`, resuming after `last_event_id` when given.
    pub async fn events(&mut self, path: &str, last_event_id: Option<u64>) -> (StatusCode, Events) {
        let mut builder = self.request(Method::GET, path, "text/event-stream");
        if let Some(id) = last_event_id {
            builder = builder.header("last-event-id", id.to_string());
        }
        let response = self.open(builder.body(empty()).expect("a request")).await;
        let status = response.status();
        (
            status,
            Events {
                body: response.into_body(),
                buffer: String::new(),
            },
        )
    }

    fn keep_cookie(&mut self, headers: &HeaderMap) {
        for value in headers.get_all(header::SET_COOKIE) {
            let value = value.to_str().expect("a text cookie");
            let pair = value.split(';').next().unwrap_or_default().trim();
            if pair.starts_with("amicopy_session=") {
                self.cookie = (pair != "amicopy_session=").then(|| pair.to_owned());
            }
        }
    }

    async fn open(&self, request: Request<BoxBody<Bytes, hyper::Error>>) -> hyper::Response<Incoming> {
        let open = async {
            let stream = TcpStream::connect(self.addr).await.expect("the web view accepts");
            match &self.tls {
                None => send_on(TokioIo::new(stream), request).await,
                Some((connector, name)) => {
                    let stream = connector.connect(name.clone(), stream).await.expect("a TLS handshake");
                    send_on(TokioIo::new(stream), request).await
                }
            }
        };
        tokio::time::timeout(DEADLINE, open).await.expect("an answer in time")
    }
}

async fn send_on<I>(io: I, request: Request<BoxBody<Bytes, hyper::Error>>) -> hyper::Response<Incoming>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .expect("an HTTP handshake");
    tokio::spawn(connection);
    sender.send_request(request).await.expect("an answer")
}

/// An empty request body.
pub fn empty() -> BoxBody<Bytes, hyper::Error> {
    full(String::new())
}

fn full(body: String) -> BoxBody<Bytes, hyper::Error> {
    Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed()
}

/// `text` percent-encoded for a form.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct Event {
    /// Its id, when it has one.
    pub id: Option<u64>,
    /// Its data, parsed.
    pub data: serde_json::Value,
}

impl Event {
    /// Whether it is the last of its stream.
    pub fn is_end(&self) -> bool {
        self.data["end"] == serde_json::Value::Bool(true)
    }

    /// The HTML that replaces the element `id`, if any.
    pub fn replacement(&self, id: &str) -> Option<&str> {
        self.data["replace"][id].as_str()
    }

    /// The HTML appended to the element `id`, if any.
    pub fn appended(&self, id: &str) -> Option<&str> {
        self.data["append"][id].as_str()
    }
}

/// An open event stream.
pub struct Events {
    body: Incoming,
    buffer: String,
}

impl Events {
    /// The next event with data (retry hints and keep-alive comments are skipped), or `None`
    /// when the stream ends.
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut id = None;
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("id:") {
                        id = Some(value.trim().parse().expect("a numeric event id"));
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.strip_prefix(' ').unwrap_or(value));
                    }
                }
                if data.is_empty() {
                    continue;
                }
                return Some(Event {
                    id,
                    data: serde_json::from_str(&data).expect("JSON data"),
                });
            }
            let frame = tokio::time::timeout(DEADLINE, self.body.frame())
                .await
                .expect("an event in time")?;
            let frame = frame.expect("a readable stream");
            if let Some(bytes) = frame.data_ref() {
                self.buffer.push_str(&String::from_utf8_lossy(bytes));
            }
        }
    }

    /// Every event until the stream ends.
    pub async fn until_end(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        while let Some(event) = self.next().await {
            events.push(event);
        }
        events
    }
}
