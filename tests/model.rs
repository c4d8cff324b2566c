//! A model-based property test of who may do what, against the real data layer.
//!
//! Each case seeds a world of its own in one shared database (a temp SQLite file, or a fresh
//! PostgreSQL database when TEST_DATABASE_URL is set): two firms, their clients, entities,
//! staff and client people, all made through the use cases. Then 30 random steps, each an
//! action by a random person (often one who should be refused, or someone of the other firm)
//! through the use case functions, or the clock moving on. An in-memory model of the rows
//! (seats, team memberships, invites) predicts, with the rules module, what each action
//! answers and what it changes. After every step the database is read back and checked:
//!
//! 1. every workspace has an effective Admin, and every firm an Admin;
//! 2. every firm Admin and Manager opens every client of the firm as an Admin of all entities
//!    (Kind::FirmLead) and may manage everyone else there;
//! 3. a successful invite or configure gave nothing beyond what the actor's standing (before the
//!    step) could give;
//! 4. an action that answered with an error (or a resend that was too soon) changed no row;
//! 5. the answer is the one the rules give from the facts before the step, and the loaders
//!    (`access::load`, `access::staff_facts`, `access::people_of`) agree with the model;
//! 6. the rows are the ones the model expects.
//!
//! `MODEL_CASES` sets the number of sequences (default 1,000), `MODEL_THREADS` how many run at
//! a time (default 2), `MODEL_SEED` replays a run. A failure is shrunk to the few steps that
//! matter and reported with the world as the model sees it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::{BoxedStrategy, Union};
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};

use portico::db::models::access::{self as facts, WorkspaceInfo};
use portico::db::models::invite::AcceptError;
use portico::db::models::{self, user};
use portico::db::schema::{
    audit_events, entities, invite_clients, invite_entities, invites, org_client_grants, org_memberships, outbox,
    workspace_entity_grants, workspace_memberships, workspaces,
};
#[path = "app/support/pg.rs"]
mod pg;
use pg::PgDatabase;
use portico::db::{DatabaseLocation, Db, DbConnection};
use portico::domain::access::{
    self as rules, Access, Kind, OrgAction, PersonFacts, Refusal, SeatFacts, StaffFacts, Standing, WorkspaceAction,
};
use portico::domain::token::InviteKey;
use portico::domain::{EmailAddress, EntityId, Name, OrgId, OrgRole, UserId, WorkspaceId, WorkspaceRole};
use portico::usecases::invites::{Place, Resent};
use portico::usecases::members::InviteRequest;
use portico::usecases::team::{Sent, StaffOffer};
use portico::usecases::{
    firm, invites as invite_uc, members, team, ActionError, Configured, Conflict, InviteLimits, InviteSettings,
};

const STEPS: usize = 30;
const DOMAIN: &str = "model.test";

// ---- the test ---------------------------------------------------------------------------

#[test]
fn random_actions_by_random_people_follow_the_rules() {
    let cases: u32 = std::env::var("MODEL_CASES").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(1000);
    let seed: u64 = std::env::var("MODEL_SEED").ok().and_then(|v| v.trim().parse().ok()).unwrap_or_else(|| {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).expect("random seed");
        u64::from_le_bytes(b) >> 1
    });

    let dir = tempfile::tempdir().expect("temp dir");
    let (url, pg, backend) = match std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        Some(admin_url) => {
            let pg = PgDatabase::create(&admin_url);
            (pg.url.clone(), Some(pg), "PostgreSQL")
        }
        None => (dir.path().join("model.db").to_string_lossy().into_owned(), None, "SQLite"),
    };
    let threads: u32 =
        std::env::var("MODEL_THREADS").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(2).clamp(1, 16);
    let env = Env::new(&url);
    say(&format!(
        "model: {cases} sequences of {STEPS} steps on {backend}, {threads} at a time, seed {seed} \
         (MODEL_SEED={seed} with the same MODEL_CASES and MODEL_THREADS replays it)"
    ));

    // The cases are shared out among `threads` runners, each with a seed of its own, so that
    // the database (and the machine's other core) is kept busy. Once one fails, the others
    // stop, and it shrinks its failing case alone.
    let failed = AtomicUsize::new(usize::MAX);
    let started = Instant::now();
    let results: Vec<_> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|i| {
                let (env, failed) = (&env, &failed);
                let share = cases / threads + u32::from(i < cases % threads);
                let worker_seed = seed.wrapping_add(u64::from(i));
                scope.spawn(move || {
                    let config = Config {
                        cases: share,
                        failure_persistence: None,
                        max_shrink_iters: 2000,
                        rng_seed: RngSeed::Fixed(worker_seed),
                        ..Config::default()
                    };
                    let me = i as usize;
                    let result = TestRunner::new(config).run(&(world(), steps()), |(w, s)| {
                        if ![usize::MAX, me].contains(&failed.load(Ordering::SeqCst)) {
                            return Ok(());
                        }
                        let r = env.sequence(&w, &s);
                        if r.is_err() {
                            let _ = failed.compare_exchange(usize::MAX, me, Ordering::SeqCst, Ordering::SeqCst);
                        }
                        r
                    });
                    (i, result)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("a runner thread")).collect()
    });
    let elapsed = started.elapsed();
    let stats = env.stats.lock().unwrap().clone();
    say(&stats.summary(elapsed.as_secs_f64(), backend));
    drop(env);
    drop(pg);
    // The runner that failed first has the shrunk sequence; the others stopped where they were.
    let mut results = results;
    results.sort_by_key(|(i, _)| usize::from(*i as usize != failed.load(Ordering::SeqCst)));
    for (worker, result) in results {
        let worker_seed = seed.wrapping_add(u64::from(worker));
        match result {
            Ok(()) => {}
            Err(TestError::Fail(reason, _)) => panic!(
                "the model test failed (MODEL_SEED={seed}; this runner's seed {worker_seed}); \
                 the failing sequence, shrunk:\n{reason}"
            ),
            Err(TestError::Abort(reason)) => panic!("the model test aborted: {reason}"),
        }
    }
}

/// Printed to the captured output, and straight to stderr so it shows under plain `cargo test`.
fn say(line: &str) {
    println!("{line}");
    let mut err = std::io::stderr();
    let _ = writeln!(err, "{line}");
    let _ = err.flush();
}

// ---- what is generated ------------------------------------------------------------------

/// The seeded world's knobs: how many entities each client starts with.
#[derive(Clone, Debug)]
struct World {
    entities: [usize; 3],
}

fn world() -> impl Strategy<Value = World> {
    (2..=3usize, 2..=3usize, 2..=3usize).prop_map(|(a, b, c)| World { entities: [a, b, c] })
}

/// A person, picked (when `.0`) among those the action concerns (who can open the workspace,
/// who is on the firm's team), or else among everyone of the sequence.
type Who = (bool, Index);

/// Which entities an invite or configure asks for: "all, current and future" (`.1`), or those
/// the bits of `.0` choose; and (`.2`, rarely) an entity of another workspace too.
type Entities = (u8, bool, bool);

/// One step, in indices into whatever exists when it runs (see `Model::resolve`).
#[derive(Clone, Debug)]
enum Step {
    Invite {
        actor: Who,
        ws: Index,
        fresh: bool,
        email: Index,
        role: Index,
        entities: Entities,
    },
    Accept {
        invite: Index,
        pending: bool,
        wrong: Option<Index>,
    },
    Configure {
        actor: Who,
        ws: Index,
        target: Who,
        role: Index,
        entities: Entities,
        /// Someone changing their own access has confirmed what they lose.
        confirmed: bool,
    },
    Remove {
        actor: Who,
        ws: Index,
        target: Who,
    },
    Resend {
        actor: Who,
        invite: Index,
        pending: bool,
        place: Option<Index>,
    },
    Cancel {
        actor: Who,
        invite: Index,
        pending: bool,
        place: Option<Index>,
    },
    TeamInvite {
        actor: Who,
        org: Index,
        emails: Vec<(bool, Index)>,
        role: Index,
        clients: u8,
        new_clients: bool,
        foreign: bool,
    },
    TeamConfigure {
        actor: Who,
        org: Index,
        target: Who,
        role: Index,
        clients: u8,
        new_clients: bool,
        foreign: bool,
        confirmed: bool,
    },
    TeamRemove {
        actor: Who,
        org: Index,
        target: Who,
    },
    AddEntity {
        actor: Who,
        ws: Index,
    },
    AddClient {
        actor: Who,
        org: Index,
    },
    /// Two minutes pass for every pending invite (their emails may be resent).
    Tick,
    /// An invite runs out (sent over a week ago).
    Expire {
        invite: Index,
    },
}

fn who() -> impl Strategy<Value = Who> {
    (proptest::bool::weighted(0.8), any::<Index>())
}

fn rare() -> impl Strategy<Value = bool> {
    proptest::bool::weighted(0.05)
}

fn entities() -> impl Strategy<Value = Entities> {
    (any::<u8>(), proptest::bool::weighted(0.15), rare())
}

fn team_configure() -> BoxedStrategy<Step> {
    let what = (any::<u8>(), any::<bool>(), rare(), any::<bool>());
    (who(), any::<Index>(), who(), any::<Index>(), what)
        .prop_map(|(actor, org, target, role, (clients, new_clients, foreign, confirmed))| Step::TeamConfigure {
            actor,
            org,
            target,
            role,
            clients,
            new_clients,
            foreign,
            confirmed,
        })
        .boxed()
}

fn step() -> BoxedStrategy<Step> {
    let i = any::<Index>;
    let options: Vec<(u32, BoxedStrategy<Step>)> = vec![
        (
            6,
            (who(), i(), proptest::bool::weighted(0.5), i(), i(), entities())
                .prop_map(|(actor, ws, fresh, email, role, entities)| Step::Invite {
                    actor,
                    ws,
                    fresh,
                    email,
                    role,
                    entities,
                })
                .boxed(),
        ),
        (
            5,
            (i(), proptest::bool::weighted(0.8), proptest::option::weighted(0.1, i()))
                .prop_map(|(invite, pending, wrong)| Step::Accept { invite, pending, wrong })
                .boxed(),
        ),
        (
            6,
            (who(), i(), who(), i(), entities(), any::<bool>())
                .prop_map(|(actor, ws, target, role, entities, confirmed)| Step::Configure {
                    actor,
                    ws,
                    target,
                    role,
                    entities,
                    confirmed,
                })
                .boxed(),
        ),
        (3, (who(), i(), who()).prop_map(|(actor, ws, target)| Step::Remove { actor, ws, target }).boxed()),
        (
            3,
            (who(), i(), proptest::bool::weighted(0.8), proptest::option::weighted(0.1, i()))
                .prop_map(|(actor, invite, pending, place)| Step::Resend { actor, invite, pending, place })
                .boxed(),
        ),
        (
            2,
            (who(), i(), proptest::bool::weighted(0.8), proptest::option::weighted(0.1, i()))
                .prop_map(|(actor, invite, pending, place)| Step::Cancel { actor, invite, pending, place })
                .boxed(),
        ),
        (
            3,
            (
                who(),
                i(),
                proptest::collection::vec((proptest::bool::weighted(0.5), i()), 1..=2),
                i(),
                any::<u8>(),
                any::<bool>(),
                rare(),
            )
                .prop_map(|(actor, org, emails, role, clients, new_clients, foreign)| Step::TeamInvite {
                    actor,
                    org,
                    emails,
                    role,
                    clients,
                    new_clients,
                    foreign,
                })
                .boxed(),
        ),
        (4, team_configure()),
        (2, (who(), i(), who()).prop_map(|(actor, org, target)| Step::TeamRemove { actor, org, target }).boxed()),
        (1, (who(), i()).prop_map(|(actor, ws)| Step::AddEntity { actor, ws }).boxed()),
        (1, (who(), i()).prop_map(|(actor, org)| Step::AddClient { actor, org }).boxed()),
        (2, Just(Step::Tick).boxed()),
        (1, i().prop_map(|invite| Step::Expire { invite }).boxed()),
    ];
    Union::new_weighted(options).boxed()
}

/// 30 steps. Each comes with a flag that is always on when generated; shrinking turns flags
/// off, so a failure shrinks to the few steps that matter. The steps themselves do not shrink:
/// they are indices into the world as it is then, and shrinking them would change which
/// person or invite each means (and cost many runs) for no clearer report.
fn steps() -> impl Strategy<Value = Vec<(bool, Step)>> {
    proptest::collection::vec((proptest::bool::weighted(1.0), step().no_shrink()), STEPS)
}

// ---- the model --------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Pending,
    Accepted,
    Cancelled,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Accepted => "accepted",
            State::Cancelled => "cancelled",
        }
    }
}

#[derive(Clone, Debug)]
struct InviteM {
    id: i64,
    org: OrgId,
    ws: Option<WorkspaceId>,
    email: String,
    role: String,
    all_entities: bool,
    entities: BTreeSet<EntityId>,
    clients: BTreeSet<WorkspaceId>,
    new_clients: bool,
    state: State,
    /// Its expiry has passed.
    expired: bool,
    /// Its email went out over a minute ago (it may be resent).
    aged: bool,
    /// Who sent it.
    by: UserId,
}

#[derive(Clone, Debug)]
struct UserM {
    id: UserId,
    email: String,
    label: String,
}

#[derive(Clone, Debug)]
struct WsM {
    info: WorkspaceInfo,
    label: String,
    entities: Vec<EntityId>,
}

#[derive(Clone, Debug)]
struct OrgM {
    id: OrgId,
    name: String,
    label: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct StaffRow {
    role: OrgRole,
    clients: BTreeSet<WorkspaceId>,
    new_clients: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct SeatRow {
    role: WorkspaceRole,
    /// "All entities, current and future" (the row's flag); else the chosen `entities`.
    all: bool,
    entities: BTreeSet<EntityId>,
}

impl SeatRow {
    fn new(role: WorkspaceRole, entities: &Access<EntityId>) -> SeatRow {
        let (all, entities) = stored(entities);
        SeatRow { role, all, entities }
    }
}

/// How entity access is stored: a flag for "all", else the chosen ones.
fn stored(a: &Access<EntityId>) -> (bool, BTreeSet<EntityId>) {
    (a.is_all(), a.chosen().cloned().unwrap_or_default())
}

fn access(all: bool, entities: &BTreeSet<EntityId>) -> Access<EntityId> {
    if all {
        Access::All
    } else {
        Access::Only(entities.clone())
    }
}

#[derive(Clone, Debug)]
struct Model {
    prefix: String,
    users: Vec<UserM>,
    orgs: Vec<OrgM>,
    workspaces: Vec<WsM>,
    entity_labels: BTreeMap<EntityId, String>,
    staff: BTreeMap<(OrgId, UserId), StaffRow>,
    seats: BTreeMap<(WorkspaceId, UserId), SeatRow>,
    invites: Vec<InviteM>,
    /// Names made so far (clients, entities), to keep new ones unique.
    made: usize,
}

/// An action with everything resolved to ids.
#[derive(Clone, Debug)]
enum Act {
    AddClient {
        actor: UserId,
        org: OrgId,
    },
    AddEntity {
        actor: UserId,
        ws: WorkspaceId,
    },
    Invite {
        actor: UserId,
        ws: WorkspaceId,
        email: String,
        role: WorkspaceRole,
        entities: Access<EntityId>,
    },
    /// By `user`; None: the invited address's account, created first.
    Accept {
        invite: i64,
        user: Option<UserId>,
    },
    Configure {
        actor: UserId,
        ws: WorkspaceId,
        target: UserId,
        role: WorkspaceRole,
        entities: Access<EntityId>,
        confirmed: bool,
    },
    Remove {
        actor: UserId,
        ws: WorkspaceId,
        target: UserId,
    },
    Resend {
        actor: UserId,
        place: Place,
        invite: i64,
    },
    Cancel {
        actor: UserId,
        place: Place,
        invite: i64,
    },
    TeamInvite {
        actor: UserId,
        org: OrgId,
        emails: Vec<String>,
        role: OrgRole,
        clients: Vec<WorkspaceId>,
        new_clients: bool,
    },
    TeamConfigure {
        actor: UserId,
        org: OrgId,
        target: UserId,
        role: OrgRole,
        clients: Vec<WorkspaceId>,
        new_clients: bool,
        confirmed: bool,
    },
    TeamRemove {
        actor: UserId,
        org: OrgId,
        target: UserId,
    },
    Tick,
    Expire {
        invite: i64,
    },
}

impl Act {
    fn kind(&self) -> &'static str {
        match self {
            Act::AddClient { .. } => "add client",
            Act::AddEntity { .. } => "add entity",
            Act::Invite { .. } => "invite",
            Act::Accept { .. } => "accept",
            Act::Configure { .. } => "configure",
            Act::Remove { .. } => "remove",
            Act::Resend { .. } => "resend",
            Act::Cancel { .. } => "cancel",
            Act::TeamInvite { .. } => "team invite",
            Act::TeamConfigure { .. } => "team configure",
            Act::TeamRemove { .. } => "team remove",
            Act::Tick => "clock: 2 minutes",
            Act::Expire { .. } => "clock: expire",
        }
    }

    fn is_clock(&self) -> bool {
        matches!(self, Act::Tick | Act::Expire { .. })
    }
}

/// What an action answered, in the terms the model predicts.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Out {
    Ok,
    TooSoon,
    Sent(Vec<Sent>),
    Refused(Refusal),
    NotFound,
    Invalid,
    AlreadyMember,
    FirmStaff,
    AlreadyInvited,
    Ended(&'static str),
    /// Someone changing their own access is first told what they would lose.
    AsksFirst,
}

impl Out {
    /// An answer that must leave every row as it was.
    fn changes_nothing(&self) -> bool {
        !matches!(self, Out::Ok | Out::Sent(_))
    }
}

fn ended(e: &AcceptError) -> &'static str {
    match e {
        AcceptError::Unknown => "Unknown",
        AcceptError::Cancelled => "Cancelled",
        AcceptError::Expired => "Expired",
        AcceptError::AlreadyAccepted { .. } => "AlreadyAccepted",
        AcceptError::WrongAccount { .. } => "WrongAccount",
        AcceptError::Db(_) => "Db",
    }
}

fn pick<T: Clone>(items: &[T], ix: &Index) -> Option<T> {
    (!items.is_empty()).then(|| items[ix.index(items.len())].clone())
}

/// The bits of `mask` choose among `items` (the first eight).
fn chosen<T: Copy>(items: &[T], mask: u8) -> Vec<T> {
    items.iter().enumerate().filter(|(i, _)| *i < 8 && (mask >> i) & 1 == 1).map(|(_, t)| *t).collect()
}

impl Model {
    fn new(n: u64) -> Model {
        Model {
            prefix: format!("s{n}-"),
            users: Vec::new(),
            orgs: Vec::new(),
            workspaces: Vec::new(),
            entity_labels: BTreeMap::new(),
            staff: BTreeMap::new(),
            seats: BTreeMap::new(),
            invites: Vec::new(),
            made: 0,
        }
    }

    fn email(&self, label: &str) -> String {
        format!("{}{label}@{DOMAIN}", self.prefix)
    }

    fn label_of_email(&self, email: &str) -> String {
        let local = email.split('@').next().unwrap_or(email);
        local.strip_prefix(&self.prefix).unwrap_or(local).to_string()
    }

    fn user(&self, id: UserId) -> &UserM {
        self.users.iter().find(|u| u.id == id).expect("a user of the model")
    }

    fn user_by_email(&self, email: &str) -> Option<UserId> {
        self.users.iter().find(|u| u.email == email).map(|u| u.id)
    }

    fn ws(&self, id: WorkspaceId) -> &WsM {
        self.workspaces.iter().find(|w| w.info.id == id).expect("a workspace of the model")
    }

    fn org(&self, id: OrgId) -> &OrgM {
        self.orgs.iter().find(|o| o.id == id).expect("a firm of the model")
    }

    fn clients_of(&self, org: OrgId) -> Vec<WorkspaceId> {
        self.workspaces.iter().filter(|w| w.info.org_id == org).map(|w| w.info.id).collect()
    }

    fn invite(&self, id: i64) -> &InviteM {
        self.invites.iter().find(|i| i.id == id).expect("an invite of the model")
    }

    fn invite_mut(&mut self, id: i64) -> &mut InviteM {
        self.invites.iter_mut().find(|i| i.id == id).expect("an invite of the model")
    }

    fn staff_facts(&self, org: OrgId, user: UserId) -> Option<StaffFacts> {
        self.staff.get(&(org, user)).map(|s| StaffFacts::new(s.role, s.clients.iter().copied(), s.new_clients))
    }

    fn facts(&self, user: UserId, ws: WorkspaceId) -> PersonFacts {
        PersonFacts {
            staff: self.staff_facts(self.ws(ws).info.org_id, user),
            seat: self.seats.get(&(ws, user)).map(|s| SeatFacts::with(s.role, access(s.all, &s.entities))),
        }
    }

    fn standing(&self, user: UserId, ws: WorkspaceId) -> Option<Standing> {
        rules::standing(ws, &self.facts(user, ws))
    }

    fn people_of(&self, ws: WorkspaceId) -> BTreeMap<UserId, Standing> {
        self.users.iter().filter_map(|u| self.standing(u.id, ws).map(|s| (u.id, s))).collect()
    }

    fn admins_in(&self, ws: WorkspaceId) -> usize {
        self.people_of(ws).values().filter(|s| rules::is_admin(s)).count()
    }

    fn firm_admins(&self, org: OrgId) -> usize {
        self.staff.iter().filter(|((o, _), s)| *o == org && s.role == OrgRole::Admin).count()
    }

    fn pending(&self, org: OrgId, ws: Option<WorkspaceId>, email: &str) -> bool {
        self.invites.iter().any(|i| i.state == State::Pending && i.org == org && i.ws == ws && i.email == email)
    }

    fn all_entities_in(&self, ws: WorkspaceId, entities: &Access<EntityId>) -> bool {
        let mine = &self.ws(ws).entities;
        stored(entities).1.iter().all(|e| mine.contains(e))
    }

    fn all_clients_of(&self, org: OrgId, clients: &[WorkspaceId]) -> bool {
        let mine = self.clients_of(org);
        clients.iter().all(|w| mine.contains(w))
    }

    // -- choosing ------------------------------------------------------------------------

    fn everyone(&self) -> Vec<UserId> {
        self.users.iter().map(|u| u.id).collect()
    }

    fn person(&self, who: &Who, concerned: Vec<UserId>) -> UserId {
        let pool = if who.0 && !concerned.is_empty() { concerned } else { self.everyone() };
        pool[who.1.index(pool.len())]
    }

    fn in_ws(&self, ws: WorkspaceId) -> Vec<UserId> {
        self.people_of(ws).into_keys().collect()
    }

    fn on_team(&self, org: OrgId) -> Vec<UserId> {
        self.staff.keys().filter(|(o, _)| *o == org).map(|(_, u)| *u).collect()
    }

    /// Firm 1 three times as often as firm 2.
    fn pick_org(&self, ix: &Index) -> OrgId {
        let pool = [self.orgs[0].id, self.orgs[0].id, self.orgs[0].id, self.orgs[1].id];
        pool[ix.index(pool.len())]
    }

    fn pick_ws(&self, ix: &Index) -> WorkspaceId {
        self.workspaces[ix.index(self.workspaces.len())].info.id
    }

    /// A fresh address (no account yet), or an existing person's.
    fn pick_email(&self, fresh: bool, ix: &Index) -> String {
        let new: Vec<String> =
            (0..4).map(|k| self.email(&format!("p{k}"))).filter(|e| self.user_by_email(e).is_none()).collect();
        if fresh && !new.is_empty() {
            return new[ix.index(new.len())].clone();
        }
        self.users[ix.index(self.users.len())].email.clone()
    }

    fn pick_invite(&self, pending: bool, ix: &Index) -> Option<i64> {
        let open: Vec<i64> = self.invites.iter().filter(|i| i.state == State::Pending).map(|i| i.id).collect();
        if pending && !open.is_empty() {
            return pick(&open, ix);
        }
        pick(&self.invites.iter().map(|i| i.id).collect::<Vec<_>>(), ix)
    }

    fn place_of(&self, invite: i64) -> Place {
        let i = self.invite(invite);
        match i.ws {
            Some(ws) => Place::Workspace(ws),
            None => Place::Team(i.org),
        }
    }

    fn places(&self) -> Vec<Place> {
        let mut all: Vec<Place> = self.workspaces.iter().map(|w| Place::Workspace(w.info.id)).collect();
        all.extend(self.orgs.iter().map(|o| Place::Team(o.id)));
        all
    }

    fn entity_choice(&self, ws: WorkspaceId, (mask, all, foreign): Entities) -> Access<EntityId> {
        if all {
            return Access::All;
        }
        let mut out = chosen(&self.ws(ws).entities, mask);
        if foreign {
            if let Some(e) = self.workspaces.iter().filter(|w| w.info.id != ws).flat_map(|w| w.entities.first()).next()
            {
                out.push(*e);
            }
        }
        Access::only(out)
    }

    fn client_choice(&self, org: OrgId, mask: u8, foreign: bool) -> Vec<WorkspaceId> {
        let mut out = chosen(&self.clients_of(org), mask);
        if foreign {
            if let Some(w) = self.workspaces.iter().find(|w| w.info.org_id != org) {
                out.push(w.info.id);
            }
        }
        out
    }

    fn resolve(&self, step: &Step) -> Option<Act> {
        Some(match step {
            Step::Invite { actor, ws, fresh, email, role, entities } => {
                let ws = self.pick_ws(ws);
                Act::Invite {
                    actor: self.person(actor, self.in_ws(ws)),
                    ws,
                    email: self.pick_email(*fresh, email),
                    role: WorkspaceRole::ALL[role.index(3)],
                    entities: self.entity_choice(ws, *entities),
                }
            }
            Step::Accept { invite, pending, wrong } => {
                let invite = self.pick_invite(*pending, invite)?;
                let user = match wrong {
                    Some(ix) => Some(self.users[ix.index(self.users.len())].id),
                    None => self.user_by_email(&self.invite(invite).email),
                };
                Act::Accept { invite, user }
            }
            Step::Configure { actor, ws, target, role, entities, confirmed } => {
                let ws = self.pick_ws(ws);
                Act::Configure {
                    actor: self.person(actor, self.in_ws(ws)),
                    ws,
                    target: self.person(target, self.in_ws(ws)),
                    role: WorkspaceRole::ALL[role.index(3)],
                    entities: self.entity_choice(ws, *entities),
                    confirmed: *confirmed,
                }
            }
            Step::Remove { actor, ws, target } => {
                let ws = self.pick_ws(ws);
                Act::Remove {
                    actor: self.person(actor, self.in_ws(ws)),
                    ws,
                    target: self.person(target, self.in_ws(ws)),
                }
            }
            Step::Resend { actor, invite, pending, place } | Step::Cancel { actor, invite, pending, place } => {
                let invite = self.pick_invite(*pending, invite)?;
                let place = match place {
                    Some(ix) => pick(&self.places(), ix)?,
                    None => self.place_of(invite),
                };
                let concerned = match place {
                    Place::Workspace(ws) => self.in_ws(ws),
                    Place::Team(org) => self.on_team(org),
                };
                let actor = self.person(actor, concerned);
                if matches!(step, Step::Resend { .. }) {
                    Act::Resend { actor, place, invite }
                } else {
                    Act::Cancel { actor, place, invite }
                }
            }
            Step::TeamInvite { actor, org, emails, role, clients, new_clients, foreign } => {
                let org = self.pick_org(org);
                Act::TeamInvite {
                    actor: self.person(actor, self.on_team(org)),
                    org,
                    emails: emails.iter().map(|(fresh, ix)| self.pick_email(*fresh, ix)).collect(),
                    role: OrgRole::ALL[role.index(3)],
                    clients: self.client_choice(org, *clients, *foreign),
                    new_clients: *new_clients,
                }
            }
            Step::TeamConfigure { actor, org, target, role, clients, new_clients, foreign, confirmed } => {
                let org = self.pick_org(org);
                Act::TeamConfigure {
                    actor: self.person(actor, self.on_team(org)),
                    org,
                    target: self.person(target, self.on_team(org)),
                    role: OrgRole::ALL[role.index(3)],
                    clients: self.client_choice(org, *clients, *foreign),
                    new_clients: *new_clients,
                    confirmed: *confirmed,
                }
            }
            Step::TeamRemove { actor, org, target } => {
                let org = self.pick_org(org);
                Act::TeamRemove {
                    actor: self.person(actor, self.on_team(org)),
                    org,
                    target: self.person(target, self.on_team(org)),
                }
            }
            Step::AddEntity { actor, ws } => {
                let ws = self.pick_ws(ws);
                Act::AddEntity { actor: self.person(actor, self.in_ws(ws)), ws }
            }
            Step::AddClient { actor, org } => {
                let org = self.pick_org(org);
                Act::AddClient { actor: self.person(actor, self.on_team(org)), org }
            }
            Step::Tick => Act::Tick,
            Step::Expire { invite } => Act::Expire { invite: self.pick_invite(true, invite)? },
        })
    }

    // -- what the rules say -----------------------------------------------------------------

    fn expect(&self, act: &Act) -> Out {
        match self.expect_inner(act) {
            Ok(out) => out,
            Err(out) => out,
        }
    }

    /// `Err` is an early answer (an error, or "not found").
    fn expect_inner(&self, act: &Act) -> Result<Out, Out> {
        let refused = |r: Result<(), Refusal>| r.map_err(Out::Refused);
        Ok(match act {
            Act::AddClient { actor, org } => {
                let me = self.staff_facts(*org, *actor).ok_or(Out::NotFound)?;
                if !rules::org_may(me.role, OrgAction::AddClient) {
                    return Err(Out::Refused(Refusal::FirmRole));
                }
                Out::Ok
            }
            Act::AddEntity { actor, ws } => {
                let me = self.standing(*actor, *ws).ok_or(Out::NotFound)?;
                if !rules::may(&me, WorkspaceAction::AddEntity) {
                    return Err(Out::Refused(Refusal::Role));
                }
                Out::Ok
            }
            Act::Invite { actor, ws, email, role, entities } => {
                let me = self.standing(*actor, *ws).ok_or(Out::NotFound)?;
                if !self.all_entities_in(*ws, entities) {
                    return Err(Out::Invalid);
                }
                let offer = rules::grant(*role, entities.clone());
                refused(rules::may_invite(&me, &offer))?;
                refused(rules::grants_something(&offer))?;
                let org = self.ws(*ws).info.org_id;
                if let Some(u) = self.user_by_email(email) {
                    if self.standing(u, *ws).is_some() {
                        return Err(Out::AlreadyMember);
                    }
                    if self.staff.contains_key(&(org, u)) {
                        return Err(Out::FirmStaff);
                    }
                }
                if self.pending(org, Some(*ws), email) {
                    return Err(Out::AlreadyInvited);
                }
                Out::Ok
            }
            Act::Accept { invite, user } => {
                let inv = self.invite(*invite);
                let email = user.map_or(inv.email.clone(), |u| self.user(u).email.clone());
                match inv.state {
                    State::Cancelled => Out::Ended("Cancelled"),
                    State::Accepted => Out::Ended("AlreadyAccepted"),
                    State::Pending if inv.expired => Out::Ended("Expired"),
                    State::Pending if email != inv.email => Out::Ended("WrongAccount"),
                    State::Pending => Out::Ok,
                }
            }
            Act::Configure { actor, ws, target, role, entities, confirmed } => {
                let me = self.standing(*actor, *ws).ok_or(Out::NotFound)?;
                let t = self.standing(*target, *ws).ok_or(Out::NotFound)?;
                if !self.all_entities_in(*ws, entities) {
                    return Err(Out::Invalid);
                }
                let offer = rules::grant(*role, entities.clone());
                refused(rules::may_configure(&me, &t, &offer))?;
                refused(rules::keeps_a_workspace_admin(self.admins_in(*ws), t.role, Some(*role)))?;
                let seat = SeatFacts::with(*role, rules::merge_entities(&me.entities, &t.entities, &offer.entities));
                refused(rules::grants_something(&seat))?;
                if actor == target && !confirmed && !rules::seat_losses(&t, &seat, &self.ws(*ws).entities).is_empty() {
                    return Err(Out::AsksFirst);
                }
                Out::Ok
            }
            Act::Remove { actor, ws, target } => {
                let me = self.standing(*actor, *ws).ok_or(Out::NotFound)?;
                let t = self.standing(*target, *ws).ok_or(Out::NotFound)?;
                refused(rules::may_remove(&me, &t))?;
                refused(rules::keeps_a_workspace_admin(self.admins_in(*ws), t.role, None))?;
                Out::Ok
            }
            Act::Resend { actor, place, invite } | Act::Cancel { actor, place, invite } => {
                let inv = self.invite(*invite);
                if inv.state != State::Pending {
                    return Err(Out::NotFound);
                }
                match (*place, inv.ws) {
                    (Place::Workspace(ws), Some(w)) if w == ws => {
                        let me = self.standing(*actor, ws).ok_or(Out::NotFound)?;
                        let role = WorkspaceRole::parse(&inv.role).expect("a workspace role");
                        refused(rules::may_manage_invite(
                            &me,
                            &SeatFacts::with(role, access(inv.all_entities, &inv.entities)),
                        ))?;
                    }
                    (Place::Team(org), None) if inv.org == org => {
                        let me = self.staff_facts(org, *actor).ok_or(Out::NotFound)?;
                        let role = OrgRole::parse(&inv.role).expect("a firm role");
                        refused(rules::may_manage_staff(&me, role))?;
                    }
                    _ => return Err(Out::NotFound),
                }
                match act {
                    Act::Resend { .. } if !inv.aged => Out::TooSoon,
                    _ => Out::Ok,
                }
            }
            Act::TeamInvite { actor, org, emails, role, clients, new_clients } => {
                let me = self.staff_facts(*org, *actor).ok_or(Out::NotFound)?;
                if !self.all_clients_of(*org, clients) {
                    return Err(Out::Invalid);
                }
                let offer = StaffFacts::new(*role, clients.iter().copied(), *new_clients);
                refused(rules::may_invite_staff(&me, &offer))?;
                refused(rules::staff_grants_something(&offer))?;
                let mut invited: BTreeSet<&String> = BTreeSet::new();
                let sent = emails
                    .iter()
                    .map(|e| {
                        if self.user_by_email(e).is_some_and(|u| self.staff.contains_key(&(*org, u))) {
                            Sent::AlreadyMember
                        } else if self.pending(*org, None, e) || !invited.insert(e) {
                            Sent::AlreadyInvited
                        } else {
                            Sent::Invited
                        }
                    })
                    .collect();
                Out::Sent(sent)
            }
            Act::TeamConfigure { actor, org, target, role, clients, new_clients, confirmed } => {
                let me = self.staff_facts(*org, *actor).ok_or(Out::NotFound)?;
                if !self.all_clients_of(*org, clients) {
                    return Err(Out::Invalid);
                }
                let t = self.staff.get(&(*org, *target)).ok_or(Out::NotFound)?;
                let offer = StaffFacts::new(*role, clients.iter().copied(), *new_clients);
                refused(rules::may_configure_staff(&me, t.role, &offer))?;
                refused(rules::keeps_a_firm_admin(self.firm_admins(*org), t.role, Some(*role)))?;
                refused(rules::staff_grants_something(&offer))?;
                let before = self.staff_facts(*org, *target).ok_or(Out::NotFound)?;
                if actor == target
                    && !confirmed
                    && !rules::staff_losses(&before, &offer, &self.clients_of(*org)).is_empty()
                {
                    return Err(Out::AsksFirst);
                }
                Out::Ok
            }
            Act::TeamRemove { actor, org, target } => {
                let me = self.staff_facts(*org, *actor).ok_or(Out::NotFound)?;
                let t = self.staff.get(&(*org, *target)).ok_or(Out::NotFound)?;
                refused(rules::may_manage_staff(&me, t.role))?;
                refused(rules::keeps_a_firm_admin(self.firm_admins(*org), t.role, None))?;
                Out::Ok
            }
            Act::Tick | Act::Expire { .. } => Out::Ok,
        })
    }

    // -- what an allowed action changes ------------------------------------------------------

    /// `new_id`: the id the action made (invite, client, entity). `rows`: the database after.
    fn apply(&mut self, act: &Act, out: &Out, new_id: Option<i64>, rows: &Rows) -> R<()> {
        if out.changes_nothing() {
            return Ok(());
        }
        match act {
            Act::AddClient { org, .. } => {
                let id = WorkspaceId(new_id.ok_or("add client gave no id")?);
                let name = rows
                    .workspaces
                    .iter()
                    .find(|w| w.0 == id.0)
                    .map(|w| w.2.clone())
                    .ok_or("the new client is not in the database")?;
                let n = self.workspaces.iter().filter(|w| w.info.org_id == *org).count() + 1;
                let o = self.org(*org).clone();
                self.workspaces.push(WsM {
                    label: format!("{}c{n}", o.label),
                    info: WorkspaceInfo { id, name, org_id: o.id, org_name: o.name },
                    entities: Vec::new(),
                });
                for ((o, _), s) in self.staff.iter_mut() {
                    if *o == *org && s.new_clients {
                        s.clients.insert(id);
                    }
                }
                for i in self.invites.iter_mut() {
                    if i.org == *org && i.ws.is_none() && i.state == State::Pending && i.new_clients {
                        i.clients.insert(id);
                    }
                }
            }
            Act::AddEntity { ws, .. } => {
                let id = EntityId(new_id.ok_or("add entity gave no id")?);
                let label = format!("{}.e{}", self.ws(*ws).label, self.ws(*ws).entities.len() + 1);
                self.entity_labels.insert(id, label);
                self.workspaces.iter_mut().find(|w| w.info.id == *ws).expect("workspace").entities.push(id);
            }
            Act::Invite { actor, ws, email, role, entities } => {
                let (all_entities, entities) = stored(&rules::grant(*role, entities.clone()).entities);
                self.invites.push(InviteM {
                    by: *actor,
                    id: new_id.ok_or("invite gave no id")?,
                    org: self.ws(*ws).info.org_id,
                    ws: Some(*ws),
                    email: email.clone(),
                    role: role.as_str().to_string(),
                    all_entities,
                    entities,
                    clients: BTreeSet::new(),
                    new_clients: false,
                    state: State::Pending,
                    expired: false,
                    aged: false,
                });
            }
            Act::Accept { invite, user } => {
                let inv = self.invite(*invite).clone();
                let user = match user {
                    Some(u) => *u,
                    None => self.user_by_email(&inv.email).ok_or("the invited account was not made")?,
                };
                self.invite_mut(*invite).state = State::Accepted;
                match inv.ws {
                    Some(ws) => {
                        let role = WorkspaceRole::parse(&inv.role).ok_or("a workspace role")?;
                        self.seats.insert(
                            (ws, user),
                            SeatRow { role, all: inv.all_entities, entities: inv.entities.clone() },
                        );
                    }
                    None => {
                        let role = OrgRole::parse(&inv.role).ok_or("a firm role")?;
                        self.staff.insert(
                            (inv.org, user),
                            StaffRow { role, clients: inv.clients.clone(), new_clients: inv.new_clients },
                        );
                    }
                }
            }
            Act::Configure { actor, ws, target, role, entities, .. } => {
                let me = self.standing(*actor, *ws).ok_or("configure by someone without access")?;
                let t = self.standing(*target, *ws).ok_or("configure of someone without access")?;
                let offer = rules::grant(*role, entities.clone());
                let merged = rules::merge_entities(&me.entities, &t.entities, &offer.entities);
                let seat = SeatFacts::with(*role, merged);
                self.seats.insert((*ws, *target), SeatRow::new(seat.role, &seat.entities));
            }
            Act::Remove { ws, target, .. } => {
                self.seats.remove(&(*ws, *target));
                // The invites to them there and the ones they sent there are cancelled.
                let email = self.email_of(*target);
                for i in self.invites.iter_mut().filter(|i| i.state == State::Pending && i.ws == Some(*ws)) {
                    if i.email == email || i.by == *target {
                        i.state = State::Cancelled;
                    }
                }
            }
            Act::Resend { invite, .. } => {
                let i = self.invite_mut(*invite);
                i.aged = false;
                i.expired = false;
            }
            Act::Cancel { invite, .. } => {
                self.invite_mut(*invite).state = State::Cancelled;
            }
            Act::TeamInvite { actor, org, emails, role, clients, new_clients } => {
                let Out::Sent(sent) = out else {
                    return Err("a team invite answered without a list".into());
                };
                let offer = StaffFacts::new(*role, clients.iter().copied(), *new_clients);
                for (email, s) in emails.iter().zip(sent) {
                    if *s != Sent::Invited {
                        continue;
                    }
                    let id = rows
                        .invites
                        .iter()
                        .find(|r| r.org == org.0 && r.ws.is_none() && r.email == *email && r.state == "pending")
                        .map(|r| r.id)
                        .ok_or_else(|| format!("no pending team invite for {email} in the database"))?;
                    self.invites.push(InviteM {
                        by: *actor,
                        id,
                        org: *org,
                        ws: None,
                        email: email.clone(),
                        role: role.as_str().to_string(),
                        all_entities: false,
                        entities: BTreeSet::new(),
                        clients: offer.clients.chosen().cloned().unwrap_or_default(),
                        new_clients: offer.new_clients,
                        state: State::Pending,
                        expired: false,
                        aged: false,
                    });
                }
            }
            Act::TeamConfigure { org, target, role, clients, new_clients, .. } => {
                let before = self.staff_facts(*org, *target).ok_or("configure of someone not on the team")?;
                let after = StaffFacts::new(*role, clients.iter().copied(), *new_clients);
                self.staff.insert(
                    (*org, *target),
                    StaffRow {
                        role: *role,
                        clients: after.clients.chosen().cloned().unwrap_or_default(),
                        new_clients: after.new_clients,
                    },
                );
                for w in self.clients_of(*org) {
                    if before.clients.contains(w) && !after.clients.contains(w) {
                        self.seats.remove(&(w, *target));
                    }
                }
            }
            Act::TeamRemove { org, target, .. } => {
                self.staff.remove(&(*org, *target));
                for w in self.clients_of(*org) {
                    self.seats.remove(&(w, *target));
                }
                // Every invite to them from the firm and its clients is cancelled; the ones
                // they sent stay.
                let email = self.email_of(*target);
                for i in self.invites.iter_mut().filter(|i| i.state == State::Pending && i.org == *org) {
                    if i.email == email {
                        i.state = State::Cancelled;
                    }
                }
            }
            Act::Tick => {
                for i in self.invites.iter_mut().filter(|i| i.state == State::Pending) {
                    i.aged = true;
                }
            }
            Act::Expire { invite } => {
                let i = self.invite_mut(*invite);
                i.expired = true;
                i.aged = true;
            }
        }
        Ok(())
    }

    // -- words ------------------------------------------------------------------------------

    fn email_of(&self, id: UserId) -> String {
        self.users.iter().find(|u| u.id == id).map(|u| u.email.clone()).unwrap_or_default()
    }

    fn u(&self, id: UserId) -> String {
        self.users.iter().find(|u| u.id == id).map_or_else(|| format!("user#{}", id.0), |u| u.label.clone())
    }

    fn w(&self, id: WorkspaceId) -> String {
        self.workspaces.iter().find(|w| w.info.id == id).map_or_else(|| format!("ws#{}", id.0), |w| w.label.clone())
    }

    fn o(&self, id: OrgId) -> String {
        self.orgs.iter().find(|o| o.id == id).map_or_else(|| format!("org#{}", id.0), |o| o.label.clone())
    }

    fn ea(&self, a: &Access<EntityId>) -> String {
        match a {
            Access::All => "all entities".to_string(),
            Access::Only(set) => self.es(set),
        }
    }

    fn es<'a>(&self, ids: impl IntoIterator<Item = &'a EntityId>) -> String {
        let names: Vec<String> = ids
            .into_iter()
            .map(|e| self.entity_labels.get(e).cloned().unwrap_or_else(|| format!("entity#{}", e.0)))
            .collect();
        format!("[{}]", names.join(", "))
    }

    fn ws_list(&self, ids: &[WorkspaceId]) -> String {
        format!("[{}]", ids.iter().map(|w| self.w(*w)).collect::<Vec<_>>().join(", "))
    }

    fn inv(&self, id: i64) -> String {
        match self.invites.iter().position(|i| i.id == id) {
            Some(n) => {
                let i = &self.invites[n];
                let place = match i.ws {
                    Some(ws) => self.w(ws),
                    None => format!("{} team", self.o(i.org)),
                };
                let what = if i.ws.is_some() {
                    self.ea(&access(i.all_entities, &i.entities))
                } else {
                    let c: Vec<WorkspaceId> = i.clients.iter().copied().collect();
                    format!("{}{}", self.ws_list(&c), if i.new_clients { " +new clients" } else { "" })
                };
                format!(
                    "invite i{n} ({} to {place} as {} {what}, {:?}{}{})",
                    self.label_of_email(&i.email),
                    i.role,
                    i.state,
                    if i.expired { ", expired" } else { "" },
                    if i.aged { ", sent >1 min ago" } else { "" }
                )
            }
            None => format!("invite#{id}"),
        }
    }

    fn place(&self, p: Place) -> String {
        match p {
            Place::Workspace(ws) => format!("{}'s Members page", self.w(ws)),
            Place::Team(org) => format!("{}'s Team page", self.o(org)),
        }
    }

    fn describe(&self, act: &Act) -> String {
        match act {
            Act::AddClient { actor, org } => format!("{} adds a client to {}", self.u(*actor), self.o(*org)),
            Act::AddEntity { actor, ws } => format!("{} adds an entity to {}", self.u(*actor), self.w(*ws)),
            Act::Invite { actor, ws, email, role, entities } => format!(
                "{} invites {} to {} as {:?} {}",
                self.u(*actor),
                self.label_of_email(email),
                self.w(*ws),
                role,
                self.ea(entities)
            ),
            Act::Accept { invite, user } => format!(
                "{} accepts {}",
                user.map_or_else(|| "the invited address (new account)".to_string(), |u| self.u(u)),
                self.inv(*invite)
            ),
            Act::Configure { actor, ws, target, role, entities, confirmed } => format!(
                "{} configures {} in {}: {:?} {}{}",
                self.u(*actor),
                self.u(*target),
                self.w(*ws),
                role,
                self.ea(entities),
                if *confirmed { " (losses confirmed)" } else { "" }
            ),
            Act::Remove { actor, ws, target } => {
                format!("{} removes {} from {}", self.u(*actor), self.u(*target), self.w(*ws))
            }
            Act::Resend { actor, place, invite } => {
                format!("{} resends {} from {}", self.u(*actor), self.inv(*invite), self.place(*place))
            }
            Act::Cancel { actor, place, invite } => {
                format!("{} cancels {} from {}", self.u(*actor), self.inv(*invite), self.place(*place))
            }
            Act::TeamInvite { actor, org, emails, role, clients, new_clients } => format!(
                "{} invites {:?} to the {} team as {:?} {}{}",
                self.u(*actor),
                emails.iter().map(|e| self.label_of_email(e)).collect::<Vec<_>>(),
                self.o(*org),
                role,
                self.ws_list(clients),
                if *new_clients { " +new clients" } else { "" }
            ),
            Act::TeamConfigure { actor, org, target, role, clients, new_clients, confirmed } => format!(
                "{} configures {} on the {} team: {:?} {}{}{}",
                self.u(*actor),
                self.u(*target),
                self.o(*org),
                role,
                self.ws_list(clients),
                if *new_clients { " +new clients" } else { "" },
                if *confirmed { " (losses confirmed)" } else { "" }
            ),
            Act::TeamRemove { actor, org, target } => {
                format!("{} removes {} from the {} team", self.u(*actor), self.u(*target), self.o(*org))
            }
            Act::Tick => "(two minutes pass for every pending invite)".to_string(),
            Act::Expire { invite } => format!("({} expires)", self.inv(*invite)),
        }
    }

    /// Everyone's place, for a failure report.
    fn legend(&self) -> String {
        let mut out = String::from("  world now:\n");
        for w in &self.workspaces {
            let people: Vec<String> = self
                .people_of(w.info.id)
                .iter()
                .map(|(u, s)| format!("{} {:?}/{:?} {}", self.u(*u), s.kind, s.role, self.ea(&s.entities)))
                .collect();
            out += &format!(
                "    {} (id {}, entities {}): {}\n",
                w.label,
                w.info.id.0,
                self.es(&w.entities),
                people.join("; ")
            );
        }
        for ((org, u), s) in &self.staff {
            let c: Vec<WorkspaceId> = s.clients.iter().copied().collect();
            out += &format!(
                "    team {}: {} {:?} {}{}\n",
                self.o(*org),
                self.u(*u),
                s.role,
                self.ws_list(&c),
                if s.new_clients { " +new clients" } else { "" }
            );
        }
        for i in &self.invites {
            out += &format!("    {}\n", self.inv(i.id));
        }
        let ids: Vec<String> = self.users.iter().map(|u| format!("{}={}", u.label, u.id.0)).collect();
        out += &format!("    user ids: {}\n", ids.join(" "));
        out
    }
}

type R<T> = Result<T, String>;

// ---- the database, read back -------------------------------------------------------------

/// An `invites` row, every column.
#[derive(Clone, Debug, PartialEq, Queryable)]
struct InviteRow {
    id: i64,
    org: i64,
    ws: Option<i64>,
    email: String,
    role: String,
    new_clients: bool,
    token_hash: String,
    token_nonce: String,
    invited_by: i64,
    state: String,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    last_sent_at: NaiveDateTime,
    accepted_by: Option<i64>,
    ended_at: Option<NaiveDateTime>,
    all_entities: bool,
}
type OutboxRow = (
    i64,
    String,
    Option<i64>,
    String,
    String,
    i32,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<String>,
    NaiveDateTime,
    Option<NaiveDateTime>,
);
/// A `workspace_memberships` row: id, workspace, user, role, invited by, since, all entities.
type SeatDbRow = (i64, i64, i64, String, Option<i64>, NaiveDateTime, bool);
type AuditRow = (i64, i64, Option<i64>, Option<i64>, String, String, String, NaiveDateTime);

/// Every row of the sequence's two firms that access, invites and their trail live in.
#[derive(Clone, Debug, Default, PartialEq)]
struct Rows {
    workspaces: Vec<(i64, i64, String)>,
    entities: Vec<(i64, i64, String)>,
    seats: Vec<SeatDbRow>,
    seat_grants: Vec<(i64, i64)>,
    staff: Vec<(i64, i64, i64, String, bool, NaiveDateTime)>,
    staff_grants: Vec<(i64, i64)>,
    invites: Vec<InviteRow>,
    invite_entities: Vec<(i64, i64)>,
    invite_clients: Vec<(i64, i64)>,
    outbox: Vec<OutboxRow>,
    audit: Vec<AuditRow>,
}

fn read_rows(c: &mut DbConnection, orgs: &[i64]) -> QueryResult<Rows> {
    // Row ids first, then the rows that hang off them by id: every query is an index look-up
    // (no joins for the planner to turn into scans as the shared database grows).
    let orgs = orgs.to_vec();
    let workspaces: Vec<(i64, i64, String)> = workspaces::table
        .filter(workspaces::organization_id.eq_any(&orgs))
        .order(workspaces::id.asc())
        .select((workspaces::id, workspaces::organization_id, workspaces::name))
        .load(c)?;
    let ws_ids: Vec<i64> = workspaces.iter().map(|w| w.0).collect();
    let seats: Vec<SeatDbRow> = workspace_memberships::table
        .filter(workspace_memberships::workspace_id.eq_any(&ws_ids))
        .order(workspace_memberships::id.asc())
        .select((
            workspace_memberships::id,
            workspace_memberships::workspace_id,
            workspace_memberships::user_id,
            workspace_memberships::role,
            workspace_memberships::invited_by,
            workspace_memberships::created_at,
            workspace_memberships::all_entities,
        ))
        .load(c)?;
    let seat_ids: Vec<i64> = seats.iter().map(|s| s.0).collect();
    let staff: Vec<(i64, i64, i64, String, bool, NaiveDateTime)> = org_memberships::table
        .filter(org_memberships::organization_id.eq_any(&orgs))
        .order(org_memberships::id.asc())
        .select((
            org_memberships::id,
            org_memberships::organization_id,
            org_memberships::user_id,
            org_memberships::role,
            org_memberships::new_clients,
            org_memberships::created_at,
        ))
        .load(c)?;
    let staff_ids: Vec<i64> = staff.iter().map(|s| s.0).collect();
    let invites: Vec<InviteRow> = invites::table
        .filter(invites::organization_id.eq_any(&orgs))
        .order(invites::id.asc())
        .select((
            invites::id,
            invites::organization_id,
            invites::workspace_id,
            invites::email,
            invites::role,
            invites::new_clients,
            invites::token_hash,
            invites::token_nonce,
            invites::invited_by,
            invites::state,
            invites::created_at,
            invites::expires_at,
            invites::last_sent_at,
            invites::accepted_by,
            invites::ended_at,
            invites::all_entities,
        ))
        .load(c)?;
    let invite_ids: Vec<i64> = invites.iter().map(|i| i.id).collect();
    Ok(Rows {
        entities: entities::table
            .filter(entities::workspace_id.eq_any(&ws_ids))
            .order(entities::id.asc())
            .select((entities::id, entities::workspace_id, entities::name))
            .load(c)?,
        seat_grants: workspace_entity_grants::table
            .filter(workspace_entity_grants::membership_id.eq_any(&seat_ids))
            .order((workspace_entity_grants::membership_id.asc(), workspace_entity_grants::entity_id.asc()))
            .select((workspace_entity_grants::membership_id, workspace_entity_grants::entity_id))
            .load(c)?,
        staff_grants: org_client_grants::table
            .filter(org_client_grants::membership_id.eq_any(&staff_ids))
            .order((org_client_grants::membership_id.asc(), org_client_grants::workspace_id.asc()))
            .select((org_client_grants::membership_id, org_client_grants::workspace_id))
            .load(c)?,
        invite_entities: invite_entities::table
            .filter(invite_entities::invite_id.eq_any(&invite_ids))
            .order((invite_entities::invite_id.asc(), invite_entities::entity_id.asc()))
            .select((invite_entities::invite_id, invite_entities::entity_id))
            .load(c)?,
        invite_clients: invite_clients::table
            .filter(invite_clients::invite_id.eq_any(&invite_ids))
            .order((invite_clients::invite_id.asc(), invite_clients::workspace_id.asc()))
            .select((invite_clients::invite_id, invite_clients::workspace_id))
            .load(c)?,
        outbox: outbox::table
            .filter(outbox::invite_id.eq_any(&invite_ids))
            .order(outbox::id.asc())
            .select((
                outbox::id,
                outbox::kind,
                outbox::invite_id,
                outbox::to_email,
                outbox::state,
                outbox::attempts,
                outbox::next_attempt_at,
                outbox::locked_until,
                outbox::last_error,
                outbox::created_at,
                outbox::sent_at,
            ))
            .load(c)?,
        audit: audit_events::table
            .filter(audit_events::organization_id.eq_any(&orgs))
            .order(audit_events::id.asc())
            .select((
                audit_events::id,
                audit_events::organization_id,
                audit_events::workspace_id,
                audit_events::actor_id,
                audit_events::action,
                audit_events::target_email,
                audit_events::detail,
                audit_events::created_at,
            ))
            .load(c)?,
        workspaces,
        seats,
        staff,
        invites,
    })
}

/// The rows, and everyone who can open each workspace as `access::people_of` says.
#[derive(Clone, Debug)]
struct Observed {
    rows: Rows,
    people: BTreeMap<WorkspaceId, BTreeMap<UserId, Standing>>,
    now: NaiveDateTime,
}

/// The rows that differ between two lists, for a failure report.
fn diff_rows<T: PartialEq + Debug>(name: &str, before: &[T], after: &[T], out: &mut String) {
    let gone: Vec<&T> = before.iter().filter(|r| !after.contains(r)).collect();
    let new: Vec<&T> = after.iter().filter(|r| !before.contains(r)).collect();
    if !gone.is_empty() || !new.is_empty() {
        *out += &format!("    {name}: before only {gone:?}\n    {name}: after only {new:?}\n");
    }
}

fn diff_all(a: &Rows, b: &Rows) -> String {
    let mut out = String::new();
    diff_rows("workspaces", &a.workspaces, &b.workspaces, &mut out);
    diff_rows("entities", &a.entities, &b.entities, &mut out);
    diff_rows("workspace_memberships", &a.seats, &b.seats, &mut out);
    diff_rows("workspace_entity_grants", &a.seat_grants, &b.seat_grants, &mut out);
    diff_rows("org_memberships", &a.staff, &b.staff, &mut out);
    diff_rows("org_client_grants", &a.staff_grants, &b.staff_grants, &mut out);
    diff_rows("invites", &a.invites, &b.invites, &mut out);
    diff_rows("invite_entities", &a.invite_entities, &b.invite_entities, &mut out);
    diff_rows("invite_clients", &a.invite_clients, &b.invite_clients, &mut out);
    diff_rows("outbox", &a.outbox, &b.outbox, &mut out);
    diff_rows("audit_events", &a.audit, &b.audit, &mut out);
    out
}

fn diff_maps<K: Ord + Debug, V: PartialEq + Debug>(what: &str, model: &BTreeMap<K, V>, db: &BTreeMap<K, V>) -> R<()> {
    let mut out = String::new();
    for (k, v) in model {
        match db.get(k) {
            None => out += &format!("    {k:?}: model {v:?}, database none\n"),
            Some(d) if d != v => out += &format!("    {k:?}: model {v:?}, database {d:?}\n"),
            _ => {}
        }
    }
    for (k, d) in db {
        if !model.contains_key(k) {
            out += &format!("    {k:?}: model none, database {d:?}\n");
        }
    }
    if out.is_empty() {
        Ok(())
    } else {
        Err(format!("{what} differ from the model:\n{out}"))
    }
}

/// (6) and (5, people_of): the database holds what the model says.
fn compare(m: &Model, obs: &Observed) -> R<()> {
    let rows = &obs.rows;
    let ws_db: BTreeSet<i64> = rows.workspaces.iter().map(|w| w.0).collect();
    let ws_model: BTreeSet<i64> = m.workspaces.iter().map(|w| w.info.id.0).collect();
    if ws_db != ws_model {
        return Err(format!("workspaces: model {ws_model:?}, database {ws_db:?}"));
    }
    let e_db: BTreeSet<(i64, i64)> = rows.entities.iter().map(|e| (e.1, e.0)).collect();
    let e_model: BTreeSet<(i64, i64)> =
        m.workspaces.iter().flat_map(|w| w.entities.iter().map(|e| (w.info.id.0, e.0))).collect();
    if e_db != e_model {
        return Err(format!("entities: model {e_model:?}, database {e_db:?}"));
    }

    let mut grants: BTreeMap<i64, BTreeSet<EntityId>> = BTreeMap::new();
    for (mid, e) in &rows.seat_grants {
        grants.entry(*mid).or_default().insert(EntityId(*e));
    }
    let mut seats = BTreeMap::new();
    for (id, ws, user, role, _, _, all) in &rows.seats {
        let role = WorkspaceRole::parse(role).ok_or_else(|| format!("a stored workspace role {role:?}"))?;
        let entities = grants.remove(id).unwrap_or_default();
        seats.insert((WorkspaceId(*ws), UserId(*user)), SeatRow { role, all: *all, entities });
    }
    diff_maps("workspace memberships (ws, user)", &m.seats, &seats)?;

    let mut clients: BTreeMap<i64, BTreeSet<WorkspaceId>> = BTreeMap::new();
    for (mid, w) in &rows.staff_grants {
        clients.entry(*mid).or_default().insert(WorkspaceId(*w));
    }
    let mut staff = BTreeMap::new();
    for (id, org, user, role, new_clients, _) in &rows.staff {
        let role = OrgRole::parse(role).ok_or_else(|| format!("a stored firm role {role:?}"))?;
        staff.insert(
            (OrgId(*org), UserId(*user)),
            StaffRow { role, clients: clients.remove(id).unwrap_or_default(), new_clients: *new_clients },
        );
    }
    diff_maps("team memberships (org, user)", &m.staff, &staff)?;

    let mut ie: BTreeMap<i64, BTreeSet<EntityId>> = BTreeMap::new();
    for (i, e) in &rows.invite_entities {
        ie.entry(*i).or_default().insert(EntityId(*e));
    }
    let mut ic: BTreeMap<i64, BTreeSet<WorkspaceId>> = BTreeMap::new();
    for (i, w) in &rows.invite_clients {
        ic.entry(*i).or_default().insert(WorkspaceId(*w));
    }
    if rows.invites.len() != m.invites.len() {
        return Err(format!("{} invites in the database, {} in the model", rows.invites.len(), m.invites.len()));
    }
    for i in &m.invites {
        let r = rows
            .invites
            .iter()
            .find(|r| r.id == i.id)
            .ok_or_else(|| format!("invite {} is not in the database", i.id))?;
        let stored = (
            OrgId(r.org),
            r.ws.map(WorkspaceId),
            r.email.clone(),
            r.role.clone(),
            r.new_clients,
            r.state.clone(),
            r.all_entities,
            ie.remove(&r.id).unwrap_or_default(),
            ic.remove(&r.id).unwrap_or_default(),
        );
        let model = (
            i.org,
            i.ws,
            i.email.clone(),
            i.role.clone(),
            i.new_clients,
            i.state.as_str().to_string(),
            i.all_entities,
            i.entities.clone(),
            i.clients.clone(),
        );
        if stored != model {
            return Err(format!("{}: the database has {stored:?}, the model {model:?}", m.inv(i.id)));
        }
        if i.state == State::Pending {
            let expired = r.expires_at <= obs.now;
            let aged = obs.now - r.last_sent_at >= Duration::seconds(60);
            if expired != i.expired || aged != i.aged {
                return Err(format!(
                    "{}: expired {expired}, sent over a minute ago {aged} in the database",
                    m.inv(i.id)
                ));
            }
        }
    }

    for w in &m.workspaces {
        let model = m.people_of(w.info.id);
        let db = obs.people.get(&w.info.id).cloned().unwrap_or_default();
        diff_maps(&format!("people_of({}) (user → standing)", w.label), &model, &db)?;
    }
    Ok(())
}

/// (1) and (2): every workspace keeps an Admin who can manage it; firm leads are Admins of
/// every client, and may manage everyone else there; each firm keeps an Admin.
fn invariants(m: &Model, obs: &Observed) -> R<()> {
    for (org_id, label) in m.orgs.iter().map(|o| (o.id.0, &o.label)) {
        let admins = obs.rows.staff.iter().filter(|s| s.1 == org_id && s.3 == OrgRole::Admin.as_str()).count();
        if admins == 0 {
            return Err(format!("firm {label} has no Admin"));
        }
    }
    for w in &m.workspaces {
        let people = obs.people.get(&w.info.id).cloned().unwrap_or_default();
        if !people.values().any(rules::is_admin) {
            return Err(format!("{} has no effective Admin: {people:?}", w.label));
        }
        for (_, org, user, role, _, _) in &obs.rows.staff {
            if *org != w.info.org_id.0 {
                continue;
            }
            let Some(role) = OrgRole::parse(role).filter(|r| rules::sees_all_clients(*r)) else {
                continue;
            };
            let want = Standing { role: WorkspaceRole::Admin, entities: Access::All, kind: Kind::FirmLead(role) };
            let lead = people.get(&UserId(*user));
            if lead != Some(&want) {
                return Err(format!(
                    "firm {role:?} {} opens {} as {lead:?}, not as an Admin of all entities",
                    m.u(UserId(*user)),
                    w.label
                ));
            }
            for (other, s) in &people {
                if matches!(s.kind, Kind::FirmLead(_)) {
                    continue;
                }
                if let Err(r) = rules::may_manage(&want, s) {
                    return Err(format!(
                        "firm {role:?} {} may not manage {} in {}: {r:?}",
                        m.u(UserId(*user)),
                        m.u(*other),
                        w.label
                    ));
                }
            }
        }
        // Nobody of another firm, with no row of their own here, gets in.
        for u in people.keys() {
            let staff = obs.rows.staff.iter().any(|s| s.1 == w.info.org_id.0 && s.2 == u.0);
            let seat = obs.rows.seats.iter().any(|s| s.1 == w.info.id.0 && s.2 == u.0);
            if !staff && !seat {
                return Err(format!("{} opens {} with no row there", m.u(*u), w.label));
            }
        }
    }
    Ok(())
}

/// What entities `after` holds that `before` did not, all within `reach`.
fn gains_within(reach: &Access<EntityId>, before: &Access<EntityId>, after: &Access<EntityId>) -> bool {
    match (before, after) {
        (Access::All, _) => true,
        (Access::Only(_), Access::All) => reach.is_all(),
        (Access::Only(b), Access::Only(a)) => reach.covers(&Access::Only(a.difference(b).copied().collect())),
    }
}

/// (3): an allowed invite or configure gave nothing beyond the actor's standing before it.
fn within_reach(prev: &Model, act: &Act, new_id: Option<i64>, before: &Rows, obs: &Observed) -> R<()> {
    match act {
        Act::Invite { actor, ws, .. } => {
            let me = prev.standing(*actor, *ws).ok_or("an invite by someone without access")?;
            let id = new_id.ok_or("no invite id")?;
            let r = obs.rows.invites.iter().find(|r| r.id == id).ok_or("the invite is not stored")?;
            let role = WorkspaceRole::parse(&r.role).ok_or("a stored workspace role")?;
            let chosen = obs.rows.invite_entities.iter().filter(|(i, _)| *i == id).map(|(_, e)| EntityId(*e));
            let offer = SeatFacts::with(role, if r.all_entities { Access::All } else { Access::only(chosen) });
            if !rules::may_give_role(&me, role) || !me.entities.covers(&offer.entities) {
                return Err(format!("the stored invite gives {offer:?}, beyond the actor's {me:?}"));
            }
        }
        Act::Configure { actor, ws, target, .. } => {
            let me = prev.standing(*actor, *ws).ok_or("a configure by someone without access")?;
            let was = prev.standing(*target, *ws).ok_or("a configure of someone without access")?;
            let now = obs
                .people
                .get(ws)
                .and_then(|p| p.get(target))
                .ok_or("the configured person can no longer open the workspace")?;
            if now.role != was.role && !rules::may_give_role(&me, now.role) {
                return Err(format!("{} gave the role {:?}, beyond their {me:?}", prev.u(*actor), now.role));
            }
            if !gains_within(&me.entities, &was.entities, &now.entities) {
                return Err(format!(
                    "{} gave entities beyond their reach: {was:?} → {now:?}, actor {me:?}",
                    prev.u(*actor)
                ));
            }
        }
        Act::TeamInvite { actor, org, .. } => {
            let me = prev.staff_facts(*org, *actor).ok_or("a team invite by someone not on the team")?;
            for r in obs.rows.invites.iter().filter(|r| !before.invites.iter().any(|b| b.id == r.id)) {
                let role = OrgRole::parse(&r.role).ok_or("a stored firm role")?;
                let offer = StaffFacts::new(
                    role,
                    obs.rows.invite_clients.iter().filter(|(i, _)| *i == r.id).map(|(_, w)| WorkspaceId(*w)),
                    r.new_clients,
                );
                if !rules::may_give_org_role(me.role, role) || !me.clients.covers(&offer.clients) {
                    return Err(format!("the stored team invite gives {offer:?}, beyond the actor's {me:?}"));
                }
            }
        }
        Act::TeamConfigure { actor, org, target, .. } => {
            let me = prev.staff_facts(*org, *actor).ok_or("a team configure by someone not on the team")?;
            let was = prev.staff_facts(*org, *target).ok_or("a team configure of someone not on the team")?;
            let (mid, role) = obs
                .rows
                .staff
                .iter()
                .find(|s| s.1 == org.0 && s.2 == target.0)
                .map(|s| (s.0, s.3.clone()))
                .ok_or("the configured person left the team")?;
            let role = OrgRole::parse(&role).ok_or("a stored firm role")?;
            let now = StaffFacts::new(
                role,
                obs.rows.staff_grants.iter().filter(|(m, _)| *m == mid).map(|(_, w)| WorkspaceId(*w)),
                false,
            );
            if !rules::may_give_org_role(me.role, role)
                || !rules::may_give_org_role(me.role, was.role)
                || !me.clients.covers(&now.clients)
            {
                return Err(format!("{} made {was:?} into {now:?}, beyond their {me:?}", prev.u(*actor)));
            }
        }
        _ => {}
    }
    Ok(())
}

// ---- running it -------------------------------------------------------------------------

#[derive(Clone, Default)]
struct Stats {
    sequences: u64,
    steps: u64,
    skipped: u64,
    clock: u64,
    setup_actions: u64,
    by_kind: BTreeMap<&'static str, BTreeMap<&'static str, u64>>,
    /// Refusals by reason (the `Refusal` variant), and other answers by kind.
    reasons: BTreeMap<String, u64>,
}

impl Stats {
    fn count(&mut self, act: &Act, out: &Out) {
        let key = match out {
            Out::Ok | Out::Sent(_) => "allowed",
            Out::TooSoon => "too soon",
            Out::Refused(_) => "refused",
            Out::NotFound => "not found",
            Out::Invalid => "invalid",
            Out::AlreadyMember | Out::FirmStaff | Out::AlreadyInvited => "conflict",
            Out::Ended(_) => "ended",
            Out::AsksFirst => "asks first",
        };
        *self.by_kind.entry(act.kind()).or_default().entry(key).or_default() += 1;
        let reason = match out {
            Out::Refused(r) => format!("{r:?}"),
            Out::Ended(e) => e.to_string(),
            Out::AlreadyMember | Out::FirmStaff | Out::AlreadyInvited => format!("{out:?}"),
            _ => return,
        };
        *self.reasons.entry(reason).or_default() += 1;
    }

    fn total(&self, key: &str) -> u64 {
        self.by_kind.values().map(|m| m.get(key).copied().unwrap_or(0)).sum()
    }

    fn summary(&self, secs: f64, backend: &str) -> String {
        let actions = self.steps - self.clock - self.skipped;
        let mut out = format!(
            "model: {} sequences, {} steps ({} actions by people, {} clock steps, {} skipped) in {secs:.1}s on {backend}; \
             plus {} setup actions\n",
            self.sequences, self.steps, actions, self.clock, self.skipped, self.setup_actions
        );
        out += &format!(
            "model: {} allowed (+{} resends too soon), {} refused by the rules, {} not found, {} invalid, \
             {} conflicts, {} ended invites",
            self.total("allowed"),
            self.total("too soon"),
            self.total("refused"),
            self.total("not found"),
            self.total("invalid"),
            self.total("conflict"),
            self.total("ended"),
        );
        for (kind, m) in &self.by_kind {
            if kind.starts_with("clock") {
                continue;
            }
            let parts: Vec<String> = m.iter().map(|(k, n)| format!("{n} {k}")).collect();
            out += &format!("\nmodel:   {kind}: {}", parts.join(", "));
        }
        let reasons: Vec<String> = self.reasons.iter().map(|(r, n)| format!("{r} {n}")).collect();
        out += &format!("\nmodel: refusals, conflicts and ended invites by reason: {}", reasons.join(", "));
        out
    }
}

/// People and the firm whose team they are (or are not) on.
type OnTeam = Vec<(UserId, OrgId)>;

struct Env {
    rt: tokio::runtime::Runtime,
    db: Db,
    postgres: bool,
    settings: InviteSettings,
    next: AtomicU64,
    stats: Mutex<Stats>,
}

fn out_of<T>(r: Result<T, ActionError>) -> R<(Out, Option<T>)> {
    Ok(match r {
        Ok(v) => (Out::Ok, Some(v)),
        Err(ActionError::Refused(r)) => (Out::Refused(r), None),
        Err(ActionError::NotFound) => (Out::NotFound, None),
        Err(ActionError::Invalid(_)) => (Out::Invalid, None),
        Err(ActionError::Conflict(Conflict::AlreadyMember)) => (Out::AlreadyMember, None),
        Err(ActionError::Conflict(Conflict::FirmStaff)) => (Out::FirmStaff, None),
        Err(ActionError::Conflict(Conflict::AlreadyInvited(_))) => (Out::AlreadyInvited, None),
        Err(ActionError::Conflict(c)) => return Err(format!("unexpected conflict {c:?}")),
        Err(ActionError::InviteEnded(e)) => (Out::Ended(ended(&e)), None),
        Err(ActionError::Limited(r)) => return Err(format!("unexpected limit: {}", r.message())),
        Err(ActionError::Unconfirmed) => return Err("unexpected: unconfirmed (the emailed link confirms)".into()),
        Err(ActionError::Db(e)) => return Err(format!("database error: {e}")),
    })
}

/// A Configure answer: saved, or (for one's own access) what would be lost, asked first.
fn configured(r: Result<Configured, ActionError>) -> R<Out> {
    Ok(match out_of(r)? {
        (Out::Ok, Some(Configured::WouldLose(_))) => Out::AsksFirst,
        (out, _) => out,
    })
}

fn email(s: &str) -> EmailAddress {
    EmailAddress::parse(s).expect("a valid address")
}

fn name(s: &str) -> Name {
    Name::parse(s, "name", 100).expect("a valid name")
}

impl Env {
    fn new(url: &str) -> Env {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
        let location = DatabaseLocation::parse(url);
        let db = Db::connect(&location, 4).unwrap_or_else(|e| panic!("database: {e}"));
        Env {
            rt,
            db,
            postgres: matches!(location, DatabaseLocation::Postgres(_)),
            settings: InviteSettings {
                ttl: Duration::days(7),
                key: InviteKey::derive(b"the model test's master key, long enough to derive from"),
                // Far beyond what a model run sends: the access rules are under test here.
                limits: InviteLimits::new(1_000_000, 1_000_000, 1_000_000),
            },
            next: AtomicU64::new(1),
            stats: Mutex::new(Stats::default()),
        }
    }

    /// The rows, and (with `people`) who can open each workspace.
    fn observe(&self, m: &Model, people: bool) -> R<Observed> {
        let orgs: Vec<i64> = m.orgs.iter().map(|o| o.id.0).collect();
        let infos: Vec<WorkspaceInfo> =
            if people { m.workspaces.iter().map(|w| w.info.clone()).collect() } else { Vec::new() };
        self.rt
            .block_on(self.db.read(move |c| {
                let rows = read_rows(c, &orgs)?;
                let mut people = BTreeMap::new();
                for info in &infos {
                    let p: BTreeMap<UserId, Standing> =
                        facts::people_of(c, info)?.into_iter().map(|p| (p.user, p.standing)).collect();
                    people.insert(info.id, p);
                }
                Ok(Observed { rows, people, now: models::now() })
            }))
            .map_err(|e| format!("reading the database back: {e}"))
    }

    /// (5): what `access::load` and `access::staff_facts` say of the actor (and target) is
    /// what the model says.
    fn check_loaders(&self, m: &Model, act: &Act) -> R<()> {
        let (ws_people, org_people): (Vec<(UserId, WorkspaceId)>, OnTeam) = match act {
            Act::AddEntity { actor, ws } | Act::Invite { actor, ws, .. } => (vec![(*actor, *ws)], vec![]),
            Act::Configure { actor, ws, target, .. } | Act::Remove { actor, ws, target } => {
                (vec![(*actor, *ws), (*target, *ws)], vec![])
            }
            Act::Resend { actor, place: Place::Workspace(ws), .. }
            | Act::Cancel { actor, place: Place::Workspace(ws), .. } => (vec![(*actor, *ws)], vec![]),
            Act::Resend { actor, place: Place::Team(org), .. }
            | Act::Cancel { actor, place: Place::Team(org), .. }
            | Act::AddClient { actor, org }
            | Act::TeamInvite { actor, org, .. } => (vec![], vec![(*actor, *org)]),
            Act::TeamConfigure { actor, org, target, .. } | Act::TeamRemove { actor, org, target } => {
                (vec![], vec![(*actor, *org), (*target, *org)])
            }
            Act::Accept { .. } | Act::Tick | Act::Expire { .. } => return Ok(()),
        };
        let (wq, oq) = (ws_people.clone(), org_people.clone());
        let (loaded, staffed) = self
            .rt
            .block_on(self.db.read(move |c| {
                let mut loaded = Vec::new();
                for (u, ws) in &wq {
                    loaded.push(facts::load(c, *u, *ws)?.map(|a| a.standing));
                }
                let mut staffed = Vec::new();
                for (u, org) in &oq {
                    staffed.push(facts::staff_facts(c, *u, *org)?.map(|(_, s)| s));
                }
                Ok((loaded, staffed))
            }))
            .map_err(|e| format!("loading facts: {e}"))?;
        for ((u, ws), got) in ws_people.iter().zip(loaded) {
            let want = m.standing(*u, *ws);
            if got != want {
                return Err(format!("access::load({}, {}) = {got:?}, the model says {want:?}", m.u(*u), m.w(*ws)));
            }
        }
        for ((u, org), got) in org_people.iter().zip(staffed) {
            let want = m.staff_facts(*org, *u);
            if got != want {
                return Err(format!(
                    "access::staff_facts({}, {}) = {got:?}, the model says {want:?}",
                    m.u(*u),
                    m.o(*org)
                ));
            }
        }
        Ok(())
    }

    fn add_user(&self, m: &mut Model, address: &str) -> R<UserId> {
        let e = email(address);
        let id = self
            .rt
            .block_on(self.db.transaction(move |c| {
                user::create(c, &e, "Model Person", "not a real hash").map_err(|err| {
                    ActionError::Invalid(if matches!(err, user::CreateUserError::EmailTaken) {
                        "email taken"
                    } else {
                        "database"
                    })
                })
            }))
            .map_err(|e| format!("creating the account of {address}: {e:?}"))?;
        m.users.push(UserM { id, email: address.to_string(), label: m.label_of_email(address) });
        Ok(id)
    }

    /// Runs the action through its use case.
    fn run(&self, m: &mut Model, act: &Act) -> R<(Out, Option<i64>)> {
        let db = &self.db;
        let s = self.settings.clone();
        match act {
            Act::AddClient { actor, org } => {
                m.made += 1;
                let n = format!("Client {}{}", m.prefix, m.made);
                let (out, v) = out_of(self.rt.block_on(firm::add_client(db, *actor, *org, name(&n))))?;
                Ok((out, v.map(|w| w.0)))
            }
            Act::AddEntity { actor, ws } => {
                m.made += 1;
                let n = format!("Entity {}", m.made);
                let (out, v) = out_of(self.rt.block_on(firm::add_entity(db, *actor, *ws, name(&n))))?;
                Ok((out, v.map(|e| e.0)))
            }
            Act::Invite { actor, ws, email: to, role, entities } => {
                let req = InviteRequest { email: email(to), role: *role, entities: entities.clone(), ends: None };
                let (out, v) = out_of(self.rt.block_on(members::invite(db, *actor, *ws, req, s)))?;
                Ok((out, v.map(|i| i.0)))
            }
            Act::Accept { invite, user } => {
                let uid = match user {
                    Some(u) => *u,
                    None => {
                        let address = m.invite(*invite).email.clone();
                        self.add_user(m, &address)?
                    }
                };
                let inv = *invite;
                let (nonce, account) = self
                    .rt
                    .block_on(db.read(move |c| {
                        let nonce = invites::table.find(inv).select(invites::token_nonce).first::<String>(c)?;
                        Ok((nonce, user::find(c, uid)?))
                    }))
                    .map_err(|e| format!("reading the invite: {e}"))?;
                let account = account.ok_or("the accepting account is missing")?;
                let token = s.key.token_for(&nonce);
                // The link of the email, with its proof (which confirms the address).
                let proof = invite_uc::LinkProof { key: s.key.clone(), proof: Some(s.key.emailed_proof(&nonce)) };
                let (out, _) = out_of(self.rt.block_on(invite_uc::accept(db, token, account, proof)))?;
                Ok((out, None))
            }
            Act::Configure { actor, ws, target, role, entities, confirmed } => {
                let change = members::SeatChange { role: *role, entities: entities.clone(), ends: None };
                let r = members::configure(db, *actor, *ws, *target, change, *confirmed);
                Ok((configured(self.rt.block_on(r))?, None))
            }
            Act::Remove { actor, ws, target } => {
                let r = self.rt.block_on(members::remove(db, *actor, *ws, *target));
                Ok((out_of(r)?.0, None))
            }
            Act::Resend { actor, place, invite } => {
                let r = self.rt.block_on(invite_uc::resend(db, *actor, *place, portico::domain::InviteId(*invite), s));
                Ok(match out_of(r)? {
                    (Out::Ok, Some(Resent::TooSoon(_))) => (Out::TooSoon, None),
                    (out, _) => (out, None),
                })
            }
            Act::Cancel { actor, place, invite } => {
                let r = self.rt.block_on(invite_uc::cancel(db, *actor, *place, portico::domain::InviteId(*invite)));
                Ok((out_of(r)?.0, None))
            }
            Act::TeamInvite { actor, org, emails, role, clients, new_clients } => {
                let offer = StaffOffer { role: *role, clients: clients.clone(), new_clients: *new_clients, ends: None };
                let to: Vec<EmailAddress> = emails.iter().map(|e| email(e)).collect();
                let r = self.rt.block_on(team::invite(db, *actor, *org, to, offer, s));
                Ok(match out_of(r)? {
                    (Out::Ok, Some(sent)) => (Out::Sent(sent), None),
                    (out, _) => (out, None),
                })
            }
            Act::TeamConfigure { actor, org, target, role, clients, new_clients, confirmed } => {
                let offer = StaffOffer { role: *role, clients: clients.clone(), new_clients: *new_clients, ends: None };
                let r = self.rt.block_on(team::configure(db, *actor, *org, *target, offer, *confirmed));
                Ok((configured(r)?, None))
            }
            Act::TeamRemove { actor, org, target } => {
                let r = self.rt.block_on(team::remove(db, *actor, *org, *target));
                Ok((out_of(r)?.0, None))
            }
            Act::Tick => {
                let ids: Vec<i64> = m.invites.iter().filter(|i| i.state == State::Pending).map(|i| i.id).collect();
                self.rt
                    .block_on(db.write(move |c| {
                        for id in ids {
                            let sent: NaiveDateTime = invites::table.find(id).select(invites::last_sent_at).first(c)?;
                            diesel::update(invites::table.find(id))
                                .set(invites::last_sent_at.eq(sent - Duration::minutes(2)))
                                .execute(c)?;
                        }
                        Ok(())
                    }))
                    .map_err(|e| format!("moving the clock: {e}"))?;
                Ok((Out::Ok, None))
            }
            Act::Expire { invite } => {
                let id = *invite;
                self.rt
                    .block_on(db.write(move |c| {
                        let now = models::now();
                        diesel::update(invites::table.find(id))
                            .set((
                                invites::expires_at.eq(now - Duration::minutes(1)),
                                invites::last_sent_at.eq(now - Duration::days(8)),
                            ))
                            .execute(c)
                    }))
                    .map_err(|e| format!("expiring an invite: {e}"))?;
                Ok((Out::Ok, None))
            }
        }
    }

    /// One step: predict, act, read back, check. `seen` is the database before the step,
    /// and becomes the database after it.
    fn step(&self, m: &mut Model, act: &Act, seen: &mut Observed) -> R<Out> {
        self.check_loaders(m, act)?;
        let expected = m.expect(act);
        let prev = m.clone();
        let (got, new_id) = self.run(m, act)?;
        let obs = self.observe(m, true)?;
        if got != expected {
            return Err(format!("the rules say {expected:?}, the app answered {got:?}"));
        }
        if got.changes_nothing() && obs.rows != seen.rows {
            return Err(format!("answered {got:?} but changed rows:\n{}", diff_all(&seen.rows, &obs.rows)));
        }
        if !got.changes_nothing() && !act.is_clock() {
            let invited = !matches!(&got, Out::Sent(s) if !s.contains(&Sent::Invited));
            if invited && obs.rows.audit.len() <= seen.rows.audit.len() {
                return Err(format!("answered {got:?} but left no audit event"));
            }
            within_reach(&prev, act, new_id, &seen.rows, &obs)?;
        }
        m.apply(act, &got, new_id, &obs.rows)?;
        let obs = if m.workspaces.len() == prev.workspaces.len() {
            obs
        } else {
            // A new client: read who can open it too.
            self.observe(m, true)?
        };
        compare(m, &obs)?;
        invariants(m, &obs)?;
        *seen = obs;
        Ok(got)
    }

    /// A setup action, which must be allowed; the world is checked in full once it is seeded.
    /// Returns the id it made (invite, client or entity).
    fn setup(&self, m: &mut Model, act: Act, log: &mut Vec<String>) -> R<Option<i64>> {
        log.push(format!("  setup: {}", m.describe(&act)));
        let expected = m.expect(&act);
        if !matches!(expected, Out::Ok | Out::Sent(_)) {
            return Err(format!("the setup action is not allowed by the model: {expected:?}"));
        }
        let (got, new_id) = self.run(m, &act)?;
        if got != expected {
            return Err(format!("the rules say {expected:?}, the app answered {got:?}"));
        }
        // A new client's name and new team invites' ids are read back.
        let rows = match act {
            Act::AddClient { .. } | Act::TeamInvite { .. } => self.observe(m, false)?.rows,
            _ => Rows::default(),
        };
        m.apply(&act, &got, new_id, &rows)?;
        self.stats.lock().unwrap().setup_actions += 1;
        Ok(match act {
            Act::TeamInvite { .. } => m.invites.last().map(|i| i.id),
            _ => new_id,
        })
    }

    fn sign_up(&self, m: &mut Model, label: &str, firm_label: &str) -> R<()> {
        let address = m.email(label);
        let firm_name = format!("Firm {}{firm_label}", m.prefix);
        let (uid, org) = self
            .rt
            .block_on(firm::sign_up(
                &self.db,
                email(&address),
                name("Model Founder"),
                "not a real hash".into(),
                name(&firm_name),
            ))
            .map_err(|e| format!("sign-up: {e:?}"))?;
        m.users.push(UserM { id: uid, email: address, label: label.to_string() });
        m.orgs.push(OrgM { id: org, name: firm_name, label: firm_label.to_string() });
        m.staff.insert((org, uid), StaffRow { role: OrgRole::Admin, clients: BTreeSet::new(), new_clients: false });
        Ok(())
    }

    /// A person joins through an invite (workspace or team) and accepting it.
    fn join(&self, m: &mut Model, invite: Act, log: &mut Vec<String>) -> R<()> {
        let id = self.setup(m, invite, log)?.ok_or("the setup invite made no invite")?;
        self.setup(m, Act::Accept { invite: id, user: None }, log)?;
        Ok(())
    }

    /// Two firms: firm 1 (f1) with clients f1c1, f1c2, a Manager, two Members and client
    /// people; firm 2 (f2) with client f2c1 and its people; and a few pending invites.
    fn seed(&self, m: &mut Model, w: &World, log: &mut Vec<String>) -> R<Observed> {
        self.sign_up(m, "f1-admin", "f1")?;
        self.sign_up(m, "f2-admin", "f2")?;
        let (a1, a2) = (m.users[0].id, m.users[1].id);
        let (o1, o2) = (m.orgs[0].id, m.orgs[1].id);
        for (org, actor, n) in [(o1, a1, w.entities[0]), (o1, a1, w.entities[1]), (o2, a2, w.entities[2])] {
            let ws = WorkspaceId(self.setup(m, Act::AddClient { actor, org }, log)?.ok_or("no client id")?);
            for _ in 0..n {
                self.setup(m, Act::AddEntity { actor, ws }, log)?;
            }
        }
        let (c1, c2, d1) = (m.workspaces[0].info.id, m.workspaces[1].info.id, m.workspaces[2].info.id);
        let e = |m: &Model, ws: WorkspaceId, k: usize| m.ws(ws).entities[k];
        for (label, role, clients, new_clients) in [
            ("f1-manager", OrgRole::Manager, vec![], false),
            ("f1-member1", OrgRole::Member, vec![c1], false),
            ("f1-member2", OrgRole::Member, vec![c2], true),
        ] {
            let act = Act::TeamInvite { actor: a1, org: o1, emails: vec![m.email(label)], role, clients, new_clients };
            self.join(m, act, log)?;
        }
        let people = [
            ("f1c1-admin", c1, WorkspaceRole::Admin, vec![], a1),
            ("f1c1-accountant", c1, WorkspaceRole::Accountant, vec![e(m, c1, 0), e(m, c1, 1)], a1),
            ("f1c1-member", c1, WorkspaceRole::Member, vec![e(m, c1, 0)], a1),
            ("f1c2-accountant", c2, WorkspaceRole::Accountant, vec![e(m, c2, 0)], a1),
            ("f1c2-member", c2, WorkspaceRole::Member, vec![e(m, c2, 1)], a1),
            ("f2c1-admin", d1, WorkspaceRole::Admin, vec![], a2),
            ("f2c1-accountant", d1, WorkspaceRole::Accountant, vec![e(m, d1, 0)], a2),
        ];
        for (label, ws, role, entities, actor) in people {
            let act = Act::Invite { actor, ws, email: m.email(label), role, entities: Access::only(entities) };
            self.join(m, act, log)?;
        }
        // Invites left pending, some to people who are somewhere already (another client,
        // the other firm), so that accepting them meets what the steps did meanwhile.
        let user = |m: &Model, label: &str| m.user_by_email(&m.email(label)).expect("a seeded person");
        let pending = [
            Act::Invite {
                actor: a1,
                ws: c2,
                email: m.email("f1c1-member"),
                role: WorkspaceRole::Member,
                entities: Access::only([e(m, c2, 0)]),
            },
            Act::Invite {
                actor: a1,
                ws: c1,
                email: m.email("f2c1-admin"),
                role: WorkspaceRole::Accountant,
                entities: Access::only([e(m, c1, 0)]),
            },
            Act::Invite {
                actor: user(m, "f1c1-accountant"),
                ws: c1,
                email: m.email("p0"),
                role: WorkspaceRole::Member,
                entities: Access::only([e(m, c1, 0), e(m, c1, 1)]),
            },
            Act::Invite {
                actor: a2,
                ws: d1,
                email: m.email("f1c1-member"),
                role: WorkspaceRole::Member,
                entities: Access::only([e(m, d1, 1)]),
            },
            Act::TeamInvite {
                actor: a1,
                org: o1,
                emails: vec![m.email("f1c2-member")],
                role: OrgRole::Member,
                clients: vec![c1],
                new_clients: false,
            },
            Act::TeamInvite {
                actor: user(m, "f1-manager"),
                org: o1,
                emails: vec![m.email("p1")],
                role: OrgRole::Manager,
                clients: vec![],
                new_clients: false,
            },
        ];
        for act in pending {
            self.setup(m, act, log)?;
        }
        // p2: invited into f1c1 (all entities), then onto the team with f1c1 before accepting.
        let f1c1_admin = user(m, "f1c1-admin");
        let act = Act::Invite {
            actor: f1c1_admin,
            ws: c1,
            email: m.email("p2"),
            role: WorkspaceRole::Accountant,
            entities: Access::All,
        };
        self.setup(m, act, log)?;
        let act = Act::TeamInvite {
            actor: a1,
            org: o1,
            emails: vec![m.email("p2")],
            role: OrgRole::Member,
            clients: vec![c1],
            new_clients: false,
        };
        self.join(m, act, log)?;
        // The world as seeded, checked in full.
        let seen = self.observe(m, true)?;
        compare(m, &seen)?;
        invariants(m, &seen)?;
        Ok(seen)
    }

    /// One case: a fresh world, then the steps.
    fn sequence(&self, w: &World, steps: &[(bool, Step)]) -> Result<(), TestCaseError> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        if self.postgres && n.is_multiple_of(25) {
            // The shared database grows with every sequence, faster than autovacuum (about once
            // a minute) refreshes the planner's statistics; with stale ones it scans whole tables.
            let analyzed = self.rt.block_on(self.db.read(|c| diesel::sql_query("ANALYZE").execute(c)));
            analyzed.map_err(|e| TestCaseError::fail(format!("ANALYZE: {e}")))?;
        }
        let mut m = Model::new(n);
        let mut log = vec![format!("  sequence s{n}, world {w:?}")];
        let fail = |m: &Model, log: &[String], why: String| {
            TestCaseError::fail(format!("{}\n  FAILED: {why}\n{}", log.join("\n"), m.legend()))
        };
        let mut seen = match self.seed(&mut m, w, &mut log) {
            Ok(s) => s,
            Err(why) => return Err(fail(&m, &log, format!("setup: {why}"))),
        };
        let mut stats = Stats::default();
        let mut number = 0;
        for (on, step) in steps {
            if !on {
                continue;
            }
            number += 1;
            stats.steps += 1;
            let Some(act) = m.resolve(step) else {
                stats.skipped += 1;
                log.push(format!("  {number:2}. (nothing to do: {step:?})"));
                continue;
            };
            let words = m.describe(&act);
            match self.step(&mut m, &act, &mut seen) {
                Ok(out) => {
                    log.push(format!("  {number:2}. {words} → {out:?}"));
                    if act.is_clock() {
                        stats.clock += 1;
                    } else {
                        stats.count(&act, &out);
                    }
                }
                Err(why) => {
                    log.push(format!("  {number:2}. {words} → ?"));
                    return Err(fail(&m, &log, why));
                }
            }
        }
        let mut all = self.stats.lock().unwrap();
        all.sequences += 1;
        all.steps += stats.steps;
        all.skipped += stats.skipped;
        all.clock += stats.clock;
        for (kind, counts) in stats.by_kind {
            for (k, n) in counts {
                *all.by_kind.entry(kind).or_default().entry(k).or_default() += n;
            }
        }
        for (reason, n) in stats.reasons {
            *all.reasons.entry(reason).or_default() += n;
        }
        Ok(())
    }
}
