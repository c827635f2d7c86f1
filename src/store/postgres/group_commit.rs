//! Commits shared by concurrent callers: the new jobs of concurrent CopyImage calls in one
//! transaction (one multi-row insert of the jobs, one of their first events), and concurrent
//! changes of jobs outside distributions likewise (one multi-row update, one insert of events).
//! Concurrent reads of one job each (GetCopyJob, a watch being opened) share one query too.
//!
//! A commit costs PostgreSQL a WAL flush and each statement a round trip; at 16 concurrent
//! callers the accept path was bound by exactly that. Callers queue their write; a few workers
//! each take whatever is queued (up to [`MAX_BATCH`]) and commit it in one transaction, so an
//! idle service commits a lone write at once, as before, and a busy one shares each commit
//! between many. Rows are written in key order (client tokens, job ids), so two batches never
//! wait on each other's rows in opposite orders. A batch whose transaction fails is written
//! again one row at a time, so each caller gets its own answer and one bad row never fails its
//! neighbours.

use std::{collections::HashMap, sync::Arc};

use futures::future::BoxFuture;
use tokio::sync::{Mutex, mpsc, oneshot};
use uuid::Uuid;

use super::{PgStore, jobs};
use crate::{
    domain::{Change, Job, JobEvent, JobId},
    store::{Created, StoreError},
};

/// Most writes committed in one transaction.
const MAX_BATCH: usize = 64;
/// Transactions in flight at once per kind of write (each holds a pooled connection).
const WORKERS: usize = 3;

/// The queues of writes waiting for a shared commit. Cheap to clone; the workers end when the
/// last clone is dropped.
#[derive(Debug, Clone)]
pub(super) struct GroupCommit {
    creates: Queue<Change, Created>,
    updates: Queue<Update, Job>,
    reads: Queue<Lookup, Job>,
}

impl GroupCommit {
    /// Starts the workers, which write through `store` (its pool and announcer).
    pub(super) fn start(store: &PgStore) -> Self {
        Self {
            creates: Queue::start(store, |store, batch| Box::pin(commit_creates(store, batch))),
            updates: Queue::start(store, |store, batch| Box::pin(commit_updates(store, batch))),
            reads: Queue::start(store, |store, batch| Box::pin(read_jobs(store, batch))),
        }
    }

    /// The job `id` (of `tenant`, when one is given), read in the next shared query. The query
    /// starts after the call, so it sees every commit made before the call.
    pub(super) async fn get(&self, id: JobId, tenant: Option<&str>) -> Result<Job, StoreError> {
        self.reads
            .submit(Lookup {
                id,
                tenant: tenant.map(ToOwned::to_owned),
            })
            .await
    }

    /// Records `accepted` (a new job and its first event) in the next shared commit.
    pub(super) async fn create(&self, accepted: &Change) -> Result<Created, StoreError> {
        self.creates.submit(accepted.clone()).await
    }

    /// Writes `job` (a job of no distribution) and its event, if any, in the next shared commit.
    pub(super) async fn update(&self, job: &Job, detail: Option<&str>) -> Result<Job, StoreError> {
        self.updates
            .submit(Update {
                job: job.clone(),
                detail: detail.map(ToOwned::to_owned),
            })
            .await
    }
}

/// A change of a job outside any distribution, and its event's detail.
struct Update {
    job: Job,
    detail: Option<String>,
}

/// A job to read, and the tenant it must belong to, if any.
struct Lookup {
    id: JobId,
    tenant: Option<String>,
}

/// One write waiting for its commit (or read for its query), and where its answer goes.
struct Pending<T, A> {
    write: T,
    answer: oneshot::Sender<Result<A, StoreError>>,
}

/// What commits a batch of one kind and answers each of its writes.
type Commit<T, A> = for<'a> fn(&'a PgStore, Vec<Pending<T, A>>) -> BoxFuture<'a, ()>;

/// The queue of one kind of write, served by [`WORKERS`] workers.
struct Queue<T, A> {
    sender: mpsc::UnboundedSender<Pending<T, A>>,
}

impl<T, A> Clone for Queue<T, A> {
    fn clone(&self) -> Self {
        Self {
            sender: self.sender.clone(),
        }
    }
}

impl<T, A> std::fmt::Debug for Queue<T, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").finish_non_exhaustive()
    }
}

impl<T: Send + 'static, A: Send + 'static> Queue<T, A> {
    fn start(store: &PgStore, commit: Commit<T, A>) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..WORKERS {
            tokio::spawn(work(store.without_group_commit(), Arc::clone(&receiver), commit));
        }
        Self { sender }
    }

    async fn submit(&self, write: T) -> Result<A, StoreError> {
        let (answer, answered) = oneshot::channel();
        self.sender
            .send(Pending { write, answer })
            .map_err(|_| StoreError::Internal("the group commit workers have stopped".into()))?;
        answered
            .await
            .map_err(|_| StoreError::Internal("a group commit worker stopped before answering".into()))?
    }
}

/// Takes whatever is queued, commits it, answers every write; until the queue closes.
async fn work<T, A>(
    store: PgStore,
    receiver: Arc<Mutex<mpsc::UnboundedReceiver<Pending<T, A>>>>,
    commit: Commit<T, A>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        if receiver.lock().await.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        commit(&store, std::mem::take(&mut batch)).await;
    }
}

async fn commit_creates(store: &PgStore, mut batch: Vec<Pending<Change, Created>>) {
    if batch.len() == 1 {
        let Pending { write, answer } = batch.remove(0);
        let _ = answer.send(store.create_one(&write).await);
        return;
    }
    batch.sort_by(|a, b| token_key(&a.write).cmp(&token_key(&b.write)));
    match insert(store, &batch).await {
        Ok(mut inserted) => {
            for Pending { write, answer } in batch {
                let job = write.job();
                let created = match (inserted.remove(&job.id().as_uuid()), &job.request().client_token) {
                    (Some(stored), _) => {
                        store.announcer.announce(stored.id(), stored.last_event_sequence());
                        Ok(Created::New(stored))
                    }
                    (None, Some(token)) => store.earlier(job, token.as_str()).await,
                    (None, None) => Err(StoreError::Internal(
                        "a job without a client token was not inserted".into(),
                    )),
                };
                let _ = answer.send(created);
            }
        }
        Err(error) => {
            tracing::debug!(%error, jobs = batch.len(), "a shared commit failed; writing its jobs one at a time");
            for Pending { write, answer } in batch {
                let _ = answer.send(store.create_one(&write).await);
            }
        }
    }
}

/// The jobs of `batch` and the first events of those inserted, in one transaction; the jobs
/// inserted, as stored, by id (the others' client tokens were taken).
async fn insert(store: &PgStore, batch: &[Pending<Change, Created>]) -> Result<HashMap<Uuid, Job>, sqlx::Error> {
    let jobs: Vec<_> = batch.iter().map(|pending| pending.write.job()).collect();
    let mut tx = store.pool.begin().await?;
    let inserted = jobs::insert_many_returning(&mut tx, &jobs).await?;
    let details = batch
        .iter()
        .map(|pending| (pending.write.job().id().as_uuid(), pending.write.event()));
    commit_with_events(tx, inserted, details).await
}

/// The unique key a job's client token takes, for a consistent insertion order.
fn token_key(accepted: &Change) -> (&str, &str, Option<&str>) {
    let job = accepted.job();
    (
        job.tenant(),
        job.request().destination_region.as_str(),
        job.request().client_token.as_ref().map(|token| token.as_str()),
    )
}

async fn commit_updates(store: &PgStore, mut batch: Vec<Pending<Update, Job>>) {
    batch.sort_by_key(|pending| pending.write.job.id().as_uuid());
    // A job named twice is written alone after the others: one statement updates a row once.
    let (mut unique, mut again) = (Vec::with_capacity(batch.len()), Vec::new());
    for pending in batch {
        if unique
            .last()
            .is_some_and(|last: &Pending<Update, Job>| last.write.job.id() == pending.write.job.id())
        {
            again.push(pending);
        } else {
            unique.push(pending);
        }
    }
    if unique.len() == 1 {
        again.append(&mut unique);
    }
    if !unique.is_empty() {
        match update(store, &unique).await {
            Ok(mut updated) => {
                for Pending { write, answer } in unique {
                    let id = write.job.id();
                    let result = match updated.remove(&id.as_uuid()) {
                        Some(stored) => {
                            if write.detail.is_some() {
                                store.announcer.announce(stored.id(), stored.last_event_sequence());
                            }
                            Ok(stored)
                        }
                        None => match store.one(id, None).await {
                            Ok(_) => Err(StoreError::Conflict(id)),
                            Err(error) => Err(error),
                        },
                    };
                    let _ = answer.send(result);
                }
            }
            Err(error) => {
                tracing::debug!(%error, jobs = unique.len(), "a shared commit failed; writing its changes one at a time");
                again.extend(unique);
            }
        }
    }
    for Pending { write, answer } in again {
        let _ = answer.send(store.update_one(&write.job, write.detail.as_deref()).await);
    }
}

/// The changes of `batch` and their events, in one transaction; the jobs written, as stored, by
/// id (the others had changed since their writers read them).
async fn update(store: &PgStore, batch: &[Pending<Update, Job>]) -> Result<HashMap<Uuid, Job>, sqlx::Error> {
    let changes: Vec<(&Job, bool)> = batch
        .iter()
        .map(|pending| (&pending.write.job, pending.write.detail.is_some()))
        .collect();
    let mut tx = store.pool.begin().await?;
    let updated = jobs::update_many(&mut tx, &changes, chrono::Utc::now()).await?;
    let details = batch
        .iter()
        .map(|pending| (pending.write.job.id().as_uuid(), pending.write.detail.as_deref()));
    commit_with_events(tx, updated, details).await
}

/// Appends the event of each written job that has a detail (`details`: job id and detail, in
/// batch order), commits, and answers with the jobs as written, by id.
async fn commit_with_events<'a>(
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    written: Vec<Job>,
    details: impl Iterator<Item = (Uuid, Option<&'a str>)>,
) -> Result<HashMap<Uuid, Job>, sqlx::Error> {
    let written: HashMap<Uuid, Job> = written.into_iter().map(|job| (job.id().as_uuid(), job)).collect();
    let events: Vec<JobEvent> = details
        .filter_map(|(id, detail)| Some(JobEvent::of(written.get(&id)?, detail?)))
        .collect();
    if !events.is_empty() {
        jobs::insert_events(&mut tx, &events).await?;
    }
    tx.commit().await?;
    Ok(written)
}

/// Answers a batch of reads with one query (a lone read with a query of its own); a caller gets
/// the job only when it belongs to the caller's tenant, if one was given.
async fn read_jobs(store: &PgStore, mut batch: Vec<Pending<Lookup, Job>>) {
    if batch.len() == 1 {
        let Pending { write, answer } = batch.remove(0);
        let _ = answer.send(store.one(write.id, write.tenant.as_deref()).await);
        return;
    }
    let mut ids: Vec<Uuid> = batch.iter().map(|pending| pending.write.id.as_uuid()).collect();
    ids.sort_unstable();
    ids.dedup();
    match jobs::many(&store.pool, &ids).await {
        Ok(found) => {
            let found: HashMap<JobId, Job> = found.into_iter().map(|job| (job.id(), job)).collect();
            for Pending { write, answer } in batch {
                let job = found
                    .get(&write.id)
                    .filter(|job| write.tenant.as_deref().is_none_or(|tenant| job.tenant() == tenant))
                    .cloned()
                    .ok_or(StoreError::NotFound(write.id));
                let _ = answer.send(job);
            }
        }
        Err(error) => {
            tracing::debug!(%error, jobs = batch.len(), "a shared read failed; reading its jobs one at a time");
            for Pending { write, answer } in batch {
                let _ = answer.send(store.one(write.id, write.tenant.as_deref()).await);
            }
        }
    }
}
