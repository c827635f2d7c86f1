//! A loopback TCP proxy that a test can cut and restore, to take a real database away from the
//! server and give it back without touching the database server itself.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};

/// Forwards connections from a local port to `upstream` while open.
pub struct TcpProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    open: Arc<AtomicBool>,
    /// Bumped on every cut; connections end when it changes.
    cuts: watch::Sender<u64>,
    /// While true, open connections forward nothing but stay open, as behind a dead peer.
    frozen: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl TcpProxy {
    /// Starts forwarding 127.0.0.1:(free port) to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let open = Arc::new(AtomicBool::new(true));
        let (cuts, _) = watch::channel(0u64);
        let (frozen, _) = watch::channel(false);
        let task = tokio::spawn({
            let open = Arc::clone(&open);
            let cuts = cuts.clone();
            let frozen = frozen.clone();
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    if !open.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    tokio::spawn(forward(client, upstream, cuts.subscribe(), frozen.subscribe()));
                }
            }
        });
        Self {
            addr,
            open,
            cuts,
            frozen,
            task,
        }
    }

    /// Stops forwarding on every open connection without closing it: the peers see silence, as
    /// from a host that died or a network that dropped everything.
    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    /// Ends every connection and refuses new ones, as a lost database would.
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|generation| *generation += 1);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

async fn forward(
    mut client: TcpStream,
    upstream: SocketAddr,
    mut cuts: watch::Receiver<u64>,
    mut frozen: watch::Receiver<bool>,
) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
        _ = cuts.changed() => return,
        _ = frozen.wait_for(|frozen| *frozen) => {}
    }
    // Frozen: hold both sockets, silent, until the proxy is cut or dropped.
    let _ = cuts.changed().await;
}
