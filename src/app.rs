//! Building and running the server: open the store, pick the backend, bind the listener, serve
//! the API with health and reflection, run the engine, and shut everything down in order.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use futures::StreamExt;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;
use tonic_health::{ServingStatus, server::HealthReporter};
use tracing::{info, warn};
use uuid::Uuid;

use tower::{limit::GlobalConcurrencyLimitLayer, load_shed::LoadShedLayer};

use crate::{
    api::{
        DistributionApi, ImageCopyApi,
        limits::{LimitSettings, ShedAsUnavailableLayer, TenantRateLimitLayer, WatchSlots},
        request_id::RequestIdLayer,
    },
    auth::{Auth, AuthError, TokenStore, reload::reload_on_sighup},
    backend::{
        Backends,
        accounts::{self, Accounts, AccountsFileError},
        ec2::SdkBackends,
        sim::{SimBackends, Simulator},
    },
    config::{BackendKind, Config},
    data_dir_lock::{DataDirLock, LockError},
    domain::Region,
    engine::{Engine, hub::EventHub},
    metrics::{Metrics, backend::MeteredBackends, rpc::RpcMetricsLayer, store::MeteredStore},
    proto::{
        self,
        distribution_service_server::{self, DistributionServiceServer},
        image_copy_service_server::{self, ImageCopyServiceServer},
    },
    store::{self, Announcement, JobStore, StoreError, retention::RetentionSettings},
    ui::{Ui, UiState},
};

/// How often the store is pinged for the health service.
const HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// Why the server could not start or stopped with an error. Each message is one line that says
/// what to check.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A setting is unusable.
    #[error("invalid setting {setting}: {message}")]
    Config {
        /// The flag.
        setting: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The job database could not be opened.
    #[error(
        "cannot open the job database {url}: {source}; check that the database server is running and reachable from here, and that the URL's host, port, user, password and database name are right"
    )]
    Database {
        /// The URL, password redacted.
        url: String,
        /// The store's error.
        source: StoreError,
    },
    /// The backend could not be set up.
    #[error("cannot set up the {backend} backend: {message}")]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// What failed.
        message: String,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {source}; is another process using it?")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Authentication, TLS or policy settings are unusable.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The accounts file is unusable.
    #[error(transparent)]
    Accounts(#[from] AccountsFileError),
    /// Another process holds the SQLite database.
    #[error(transparent)]
    Locked(#[from] LockError),
    /// The server failed while serving.
    #[error("the gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
    /// The web view could not start.
    #[error(transparent)]
    Ui(#[from] crate::ui::BindError),
}

/// A server ready to run: store open, backend ready, listener bound.
pub struct App {
    listener: TcpListener,
    engine: Arc<Engine>,
    default_region: Region,
    watch_poll: Duration,
    backend_name: &'static str,
    limits: LimitSettings,
    request_timeout: Duration,
    keepalive: Option<(Duration, Duration)>,
    metrics: Metrics,
    metrics_listener: Option<TcpListener>,
    metrics_refresh: Duration,
    retention: RetentionSettings,
    /// The web view, when `--ui-listen` is set.
    ui: Option<Ui>,
    auth: Auth,
    accounts: Accounts,
    /// Held while the server lives when the jobs are in SQLite: one process per database file.
    _sqlite_lock: Option<DataDirLock>,
}

impl App {
    /// Opens the store (running migrations), reads the accounts file, sets up the backend the
    /// configuration names (one per account) and binds the listener. Binding port 0 picks a free
    /// port; [`App::local_addr`] tells which.
    pub async fn build(config: Config) -> Result<Self, AppError> {
        let accounts = config.accounts.load()?;
        let backends: Arc<dyn Backends> = match config.backend {
            BackendKind::Sim => {
                let simulator =
                    Simulator::with_accounts(config.sim.clone(), accounts.clone()).map_err(|e| AppError::Backend {
                        backend: "sim",
                        message: e.to_string(),
                    })?;
                Arc::new(SimBackends::new(simulator))
            }
            BackendKind::Ec2 => {
                let backends =
                    SdkBackends::new(&config.ec2, accounts.clone())
                        .await
                        .map_err(|e| AppError::Backend {
                            backend: "ec2",
                            message: e.to_string(),
                        })?;
                if !accounts.all().is_empty()
                    && let Err(error) = backends.own_account_id().await
                {
                    warn!(%error, "cannot learn the service's own account id yet; will ask again when it is needed");
                }
                Arc::new(backends)
            }
        };
        Self::build_with_backends(config, backends, accounts).await
    }

    /// Like [`App::build`], with backends the caller made over `accounts`: replicas in one test
    /// share one simulated EC2 this way.
    pub async fn build_with_backends(
        config: Config,
        backends: Arc<dyn Backends>,
        accounts: Accounts,
    ) -> Result<Self, AppError> {
        let default_region = config.region.clone();
        let auth = Auth::build(&config.auth, config.listen)?;
        let timeout = config.database_timeout;
        let request_timeout = config.limits.request_timeout;
        let keepalive = config.limits.keepalive();
        let metrics_refresh = config.metrics.metrics_refresh;
        let metrics = Metrics::new();
        let sqlite_lock = lock_sqlite(config.database_url.as_deref(), &config.data_dir)?;
        let store = store::connect(config.database_url.as_deref(), &config.data_dir, timeout)
            .await
            .map_err(|source| AppError::Database {
                url: match &config.database_url {
                    Some(url) => store::redact_url(url),
                    None => format!("sqlite in {}", config.data_dir.display()),
                },
                source,
            })?;
        let store: Arc<dyn JobStore> = Arc::new(MeteredStore::new(store, metrics.clone()));
        let backends: Arc<dyn Backends> = Arc::new(MeteredBackends::new(backends, metrics.clone()));
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| AppError::Listen {
                address: config.listen,
                source,
            })?;
        let metrics_listener = match config.metrics.metrics_listen {
            Some(address) => Some(
                TcpListener::bind(address)
                    .await
                    .map_err(|source| AppError::Listen { address, source })?,
            ),
            None => None,
        };
        let ui = match config.ui.ui_listen {
            Some(address) => Some(Ui::bind(address, &config.auth).await?),
            None => None,
        };
        let replica = format!("amicopyd-{}", Uuid::new_v4().simple());
        let engine = Engine::new(store, backends, EventHub::new(), config.engine.clone(), &replica);
        Ok(Self {
            listener,
            engine,
            default_region,
            watch_poll: config.watch_poll,
            backend_name: match config.backend {
                BackendKind::Sim => "sim",
                BackendKind::Ec2 => "ec2",
            },
            limits: config.limits.clone(),
            request_timeout,
            keepalive,
            metrics,
            metrics_listener,
            metrics_refresh,
            retention: config.retention.clone(),
            ui,
            auth,
            accounts,
            _sqlite_lock: sqlite_lock,
        })
    }

    /// Where the metrics listener serves `/metrics`, when one is configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
    }

    /// Where the web view listens, when `--ui-listen` is set.
    pub fn ui_addr(&self) -> Option<SocketAddr> {
        self.ui.as_ref().and_then(|ui| ui.local_addr().ok())
    }

    /// The bearer tokens in use, when calls authenticate with them: reloading them is what
    /// SIGHUP does.
    pub fn tokens(&self) -> Option<TokenStore> {
        self.auth.tokens().cloned()
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Serves until `shutdown` is cancelled, then ends watch streams, lets in-flight calls
    /// finish, and stops the engine.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), AppError> {
        let address = self.local_addr();
        let (health, health_service) = tonic_health::server::health_reporter();
        set_health(&health, ServingStatus::NotServing).await;

        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(watch_store_health(
            Arc::clone(self.engine.store()),
            health.clone(),
            shutdown.clone(),
        ));
        tasks.spawn(forward_change_feed(
            Arc::clone(&self.engine),
            self.metrics.clone(),
            shutdown.clone(),
        ));
        tasks.spawn(Arc::clone(&self.engine).catch_up_watchers_every(self.watch_poll, shutdown.clone()));
        tasks.spawn(Arc::clone(&self.engine).run(shutdown.clone()));
        tasks.spawn(crate::metrics::refresh_job_gauges(
            self.metrics.clone(),
            Arc::clone(self.engine.store()),
            self.metrics_refresh,
            shutdown.clone(),
        ));
        if let Some(keep) = self.retention.job_retention {
            tasks.spawn(crate::store::retention::run(
                Arc::clone(self.engine.store()),
                keep,
                self.retention.retention_interval,
                shutdown.clone(),
            ));
        }
        if let Some(listener) = self.metrics_listener {
            if let Ok(metrics_address) = listener.local_addr() {
                info!(%metrics_address, "serving prometheus metrics at /metrics");
            }
            tasks.spawn(crate::metrics::server::serve(
                listener,
                self.metrics.clone(),
                shutdown.clone(),
            ));
        }
        if let Some(tokens) = self.auth.tokens() {
            tasks.spawn(reload_on_sighup(tokens.clone(), shutdown.clone()));
        }
        if self.accounts.path().is_some() {
            tasks.spawn(accounts::reload::reload_on_sighup(
                self.accounts.clone(),
                shutdown.clone(),
            ));
        }

        let reflection_v1 = reflection().build_v1().map_err(reflection_error)?;
        let reflection_v1alpha = reflection().build_v1alpha().map_err(reflection_error)?;
        // Watch streams of both services count against one cap per tenant.
        let watch_slots = WatchSlots::new(
            self.limits.max_watch_streams_per_tenant,
            self.metrics.watch_streams.clone(),
        );
        if let Some(ui) = self.ui {
            if let Ok(ui_address) = ui.local_addr() {
                let scheme = if ui.tls() { "https" } else { "http" };
                info!(%ui_address, "serving the web view at {scheme}://{ui_address}/");
            }
            tasks.spawn(ui.serve(UiState {
                engine: Arc::clone(&self.engine),
                authenticator: self.auth.authenticator.clone(),
                tls: self.auth.tls.is_some(),
                watch_slots: Arc::clone(&watch_slots),
                shutdown: shutdown.clone(),
                poll: self.watch_poll,
            }));
        }
        let api = ImageCopyApi::new(Arc::clone(&self.engine), self.default_region.clone(), shutdown.clone())
            .with_send_delay(self.metrics.watch_send_delay.clone())
            .with_watch_slots(Arc::clone(&watch_slots))
            .with_policy(Arc::clone(&self.auth.policy));
        let distributions = DistributionApi::new(Arc::clone(&self.engine), shutdown.clone(), self.watch_poll)
            .with_watch_slots(watch_slots)
            .with_policy(Arc::clone(&self.auth.policy));

        info!(
            %address,
            backend = self.backend_name,
            region = %self.default_region,
            auth = ?self.auth.mode,
            tls = self.auth.tls.is_some(),
            "amicopyd serving"
        );
        let builder = match self.auth.tls.clone() {
            Some(tls) => Server::builder().tls_config(tls)?,
            None => Server::builder(),
        };
        let served = builder
            .timeout(self.request_timeout)
            .http2_keepalive_interval(self.keepalive.map(|(interval, _)| interval))
            .http2_keepalive_timeout(self.keepalive.map(|(_, timeout)| timeout))
            .layer(RequestIdLayer)
            .layer(RpcMetricsLayer::new(self.metrics.clone()))
            // Before the rate limit, which is kept per tenant.
            .layer(self.auth.layer())
            .layer(TenantRateLimitLayer::new(
                self.limits.tenant_requests_per_second,
                self.limits.tenant_request_burst,
            ))
            .layer(ShedAsUnavailableLayer)
            .layer(LoadShedLayer::new())
            .layer(GlobalConcurrencyLimitLayer::new(self.limits.max_concurrent_requests))
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(ImageCopyServiceServer::new(api).max_decoding_message_size(self.limits.max_message_bytes))
            .add_service(
                DistributionServiceServer::new(distributions).max_decoding_message_size(self.limits.max_message_bytes),
            )
            .serve_with_incoming_shutdown(
                // tonic applies its TCP_NODELAY setting only to listeners it binds itself; without
                // it, Nagle's algorithm holds a response's last frame for the client's delayed ACK
                // (about 40 ms a call).
                TcpListenerStream::new(self.listener).map(|stream| {
                    stream.inspect(|stream| {
                        if let Err(error) = stream.set_nodelay(true) {
                            warn!(%error, "cannot set TCP_NODELAY on a connection");
                        }
                    })
                }),
                shutdown.clone().cancelled_owned(),
            )
            .await;
        shutdown.cancel();
        set_health(&health, ServingStatus::NotServing).await;
        while tasks.join_next().await.is_some() {}
        info!("amicopyd stopped");
        Ok(served?)
    }
}

/// Locks the SQLite database the settings name (the data directory without a URL, else the file
/// of a `sqlite:` URL) so a second process on it refuses to start; nothing for PostgreSQL or an
/// in-memory database.
fn lock_sqlite(url: Option<&str>, data_dir: &std::path::Path) -> Result<Option<DataDirLock>, AppError> {
    match url {
        None => Ok(Some(DataDirLock::data_dir(data_dir)?)),
        Some(url) if url.starts_with("sqlite:") => {
            let Ok(options) = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(url) else {
                // The store reports the bad URL with its own message.
                return Ok(None);
            };
            let file = options.get_filename();
            if url.contains(":memory:") || url.contains("mode=memory") || file.as_os_str().is_empty() {
                return Ok(None);
            }
            Ok(Some(DataDirLock::sqlite_file(file)?))
        }
        Some(_) => Ok(None),
    }
}

fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
}

fn reflection_error(error: tonic_reflection::server::Error) -> AppError {
    AppError::Config {
        setting: "reflection",
        message: error.to_string(),
    }
}

async fn set_health(health: &HealthReporter, status: ServingStatus) {
    health.set_service_status("", status).await;
    health
        .set_service_status(image_copy_service_server::SERVICE_NAME, status)
        .await;
    health
        .set_service_status(distribution_service_server::SERVICE_NAME, status)
        .await;
}

/// Reports SERVING while the store answers and NOT_SERVING while it does not.
async fn watch_store_health(store: Arc<dyn JobStore>, health: HealthReporter, shutdown: CancellationToken) {
    let mut serving = None;
    loop {
        let now_serving = match store.ping().await {
            Ok(()) => true,
            Err(error) => {
                if serving != Some(false) {
                    warn!(%error, "job database unreachable; health is NOT_SERVING");
                }
                false
            }
        };
        if serving != Some(now_serving) {
            if now_serving && serving.is_some() {
                info!("job database reachable again; health is SERVING");
            }
            let status = if now_serving {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            set_health(&health, status).await;
            serving = Some(now_serving);
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(HEALTH_CHECK_INTERVAL) => {}
        }
    }
}

/// Wakes this process's watchers for events other replicas write (PostgreSQL NOTIFY), handing
/// them a job's new events read once for all of them, and times how old those events are then.
async fn forward_change_feed(engine: Arc<Engine>, metrics: Metrics, shutdown: CancellationToken) {
    loop {
        match engine.store().change_feed().await {
            Ok(None) => return,
            Ok(Some(mut feed)) => loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    item = feed.next() => match item {
                        Some(Ok(Announcement::Job(job, sequence))) => {
                            // Most announcements are of jobs nobody here watches: no task for those.
                            if engine.hub().newest_known(job).is_some_and(|known| sequence > known) {
                                let (engine, delays) = (Arc::clone(&engine), metrics.watch_relay_delay.clone());
                                tokio::spawn(async move {
                                    for recorded in engine.relay_announced_events(job, sequence).await {
                                        crate::metrics::observe_age(&delays, recorded);
                                    }
                                });
                            }
                        }
                        Some(Ok(Announcement::Distribution(distribution, sequence))) => {
                            engine.hub().publish_distribution(distribution, sequence)
                        }
                        Some(Err(error)) => {
                            warn!(%error, "change feed interrupted; reconnecting");
                            break;
                        }
                        None => break,
                    },
                }
            },
            Err(error) => warn!(%error, "cannot listen for changes; watchers fall back to polling"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(HEALTH_CHECK_INTERVAL) => {}
        }
    }
}
