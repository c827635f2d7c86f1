//! Arbitrary bytes as gRPC message bodies, sent over HTTP/2 to a real amicopyd server (SQLite, the
//! simulator) on a loopback port, for every method of `amicopy.v1.ImageCopyService`: each call is
//! answered with a status (INVALID_ARGUMENT or INTERNAL for what cannot be decoded or checked,
//! never UNKNOWN, which is what a panic in a handler becomes), and the server keeps serving.

use std::{
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::Duration,
};

use amicopy::{api::convert::copy_request, app::App, config::Config};
use amicopy_fuzz::input;
use arbitrary::Unstructured;
use bytes::{Buf, BufMut};
use clap::Parser;
use proptest::prelude::*;
use prost::Message;
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;
use tonic::{
    Code, Request, Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    codegen::http::uri::PathAndQuery,
    transport::Channel,
};

/// Passes message bodies through untouched, so any bytes can be sent.
#[derive(Debug, Clone, Default)]
struct RawCodec;

#[derive(Debug, Clone, Default)]
struct RawBytes;

impl Encoder for RawBytes {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawBytes {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut body = vec![0; src.remaining()];
        src.copy_to_slice(&mut body);
        Ok(Some(body))
    }
}

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawBytes;
    type Decoder = RawBytes;

    fn encoder(&mut self) -> RawBytes {
        RawBytes
    }

    fn decoder(&mut self) -> RawBytes {
        RawBytes
    }
}

const UNARY: [&str; 4] = ["CopyImage", "GetCopyJob", "ListCopyJobs", "CancelCopyJob"];

/// One server for every case: the runtime, its address, and whether its task is still running.
struct Served {
    runtime: Runtime,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    _data_dir: tempfile::TempDir,
    _shutdown: CancellationToken,
}

fn served() -> &'static Arc<Served> {
    static SERVED: OnceLock<Arc<Served>> = OnceLock::new();
    SERVED.get_or_init(|| {
        let runtime = Runtime::new().expect("runtime");
        let data_dir = tempfile::tempdir().expect("temp dir");
        let config = Config::try_parse_from([
            "amicopyd",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data_dir.path().to_str().expect("utf-8 temp dir"),
            "--tenant-requests-per-second",
            "0",
            "--sim-time-factor",
            "50",
        ])
        .expect("flags");
        let shutdown = CancellationToken::new();
        let (addr, task) = runtime.block_on(async {
            let app = App::build(config).await.expect("server starts");
            let addr = app.local_addr();
            let stop = shutdown.clone();
            let task = tokio::spawn(async move {
                app.run(stop).await.expect("server runs");
            });
            (addr, task)
        });
        Arc::new(Served {
            runtime,
            addr,
            task,
            _data_dir: data_dir,
            _shutdown: shutdown,
        })
    })
}

async fn call(channel: Channel, method: &str, body: Vec<u8>) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.map_err(|e| Status::unavailable(e.to_string()))?;
    let path = PathAndQuery::try_from(format!("/amicopy.v1.ImageCopyService/{method}")).expect("path");
    if method == "WatchCopyJob" {
        let mut stream = grpc
            .server_streaming(Request::new(body), path, RawCodec)
            .await?
            .into_inner();
        while stream.message().await?.is_some() {}
        Ok(())
    } else {
        grpc.unary(Request::new(body), path, RawCodec).await.map(|_| ())
    }
}

/// Sends `body` to every method and checks each answer; then checks the server still serves.
fn send_everywhere(body: &[u8]) {
    let served = served();
    served.runtime.block_on(async {
        let channel = Channel::from_shared(format!("http://{}", served.addr))
            .expect("endpoint")
            .connect()
            .await
            .expect("connects");
        for method in UNARY.iter().copied().chain(["WatchCopyJob"]) {
            let answer = tokio::time::timeout(Duration::from_secs(10), call(channel.clone(), method, body.to_vec()))
                .await
                .unwrap_or_else(|_| panic!("{method} hung on {body:?}"));
            if let Err(status) = answer {
                assert!(
                    !matches!(status.code(), Code::Unknown | Code::Unavailable | Code::Unimplemented),
                    "{method} answered {status:?} to {body:?}"
                );
                assert!(!status.message().is_empty(), "{method}: a status without a message");
            }
        }
        assert!(!served.task.is_finished(), "the server stopped");
    });
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(150),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn garbage_bodies_get_a_status_and_the_server_keeps_serving(body in prop::collection::vec(any::<u8>(), 0..512)) {
        send_everywhere(&body);
    }

    #[test]
    fn requests_with_mangled_tails_get_a_status(seed in prop::collection::vec(any::<u8>(), 0..1024), cut in any::<prop::sample::Index>(), tail in prop::collection::vec(any::<u8>(), 0..16)) {
        let Ok(request) = input::copy_image_input(&mut Unstructured::new(&seed)) else { return Ok(()) };
        let mut body = copy_request(request).encode_to_vec();
        body.truncate(cut.index(body.len() + 1));
        body.extend(tail);
        send_everywhere(&body);
    }
}

#[test]
fn an_undecodable_body_is_internal_and_a_bad_request_is_invalid_argument() {
    let served = served();
    served.runtime.block_on(async {
        let channel = Channel::from_shared(format!("http://{}", served.addr))
            .expect("endpoint")
            .connect()
            .await
            .expect("connects");
        let undecodable = call(channel.clone(), "CopyImage", vec![0xff, 0xff, 0xff])
            .await
            .expect_err("refused");
        assert_eq!(undecodable.code(), Code::Internal, "{undecodable:?}");
        let empty = call(channel, "CopyImage", Vec::new()).await.expect_err("refused");
        assert_eq!(empty.code(), Code::InvalidArgument, "{empty:?}");
    });
}
