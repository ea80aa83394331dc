//! Model test of the session state machine: random sequences of requests, handler changes
//! and time jumps run through `SessionState` and a tiny store that carries out its
//! decisions, and are checked against a small reference model of the documented semantics.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sessio_core::cookie::{CookieLookup, CookieUpdate};
use sessio_core::expiry::ExpiryPolicy;
use sessio_core::record::SessionRecord;
use sessio_core::{
    KeyedSessionId, LoadStatus, SessionId, SessionState, ShardTag, StoreWrite, Timestamp,
};

const IDLE: u64 = 600;
const ABSOLUTE: u64 = 3000;
const TOUCH: u64 = 60;

#[derive(Clone, Debug)]
enum Action {
    Get(u8),
    Insert(u8, u8),
    Remove(u8),
    Clear,
    Renew,
    Destroy,
    SetUser(Option<u8>),
}

#[derive(Clone, Debug)]
enum Step {
    Request(Vec<Action>),
    Wait(u64),
    /// The client's cookie is replaced by one the attacker chose.
    ForgeCookie,
    /// The client replays a cookie it held earlier (e.g. a stolen one).
    ReplayOld,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (0u8..4).prop_map(Action::Get),
        4 => (0u8..4, any::<u8>()).prop_map(|(k, v)| Action::Insert(k, v)),
        2 => (0u8..4).prop_map(Action::Remove),
        1 => Just(Action::Clear),
        1 => Just(Action::Renew),
        1 => Just(Action::Destroy),
        1 => proptest::option::of(0u8..3).prop_map(Action::SetUser),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => proptest::collection::vec(action(), 0..5).prop_map(Step::Request),
        3 => prop_oneof![
            0u64..30,
            30u64..200,
            200u64..800,
            // Exactly on the boundaries, where off-by-one mistakes live.
            Just(TOUCH),
            Just(TOUCH - 1),
            Just(IDLE),
            Just(IDLE - 1),
        ]
        .prop_map(Step::Wait),
        1 => Just(Step::ForgeCookie),
        1 => Just(Step::ReplayOld),
    ]
}

/// The reference model: the session the client's cookie reaches, in plain terms.
#[derive(Clone, Debug)]
struct Model {
    data: BTreeMap<String, Vec<u8>>,
    user: Option<String>,
    last_seen: u64,
    started: u64,
}

impl Model {
    fn alive(&self, now: u64) -> bool {
        now < (self.last_seen + IDLE).min(self.started + ABSOLUTE)
    }
}

struct World {
    now: u64,
    policy: ExpiryPolicy,
    rng: ChaCha20Rng,
    store: BTreeMap<[u8; 32], SessionRecord>,
    cookie: Option<SessionId>,
    old_cookies: Vec<SessionId>,
    model: Option<Model>,
}

impl World {
    fn new(seed: u64) -> Self {
        World {
            now: 1_000_000,
            policy: ExpiryPolicy::builder()
                .idle_timeout(Some(Duration::from_secs(IDLE)))
                .absolute_timeout(Some(Duration::from_secs(ABSOLUTE)))
                .touch_interval(Duration::from_secs(TOUCH))
                .build()
                .unwrap(),
            rng: ChaCha20Rng::seed_from_u64(seed),
            store: BTreeMap::new(),
            cookie: None,
            old_cookies: Vec::new(),
            model: None,
        }
    }

    fn carry_out(&mut self, decision: sessio_core::Decision) {
        if let Some(key) = decision.delete {
            self.store.remove(key.as_bytes());
        }
        match decision.write {
            None => {}
            Some(StoreWrite::Create { key, record }) => {
                assert!(
                    self.store.insert(*key.as_bytes(), record).is_none(),
                    "create overwrote"
                );
            }
            Some(StoreWrite::Update { key, changes }) => {
                let record = self
                    .store
                    .get_mut(key.as_bytes())
                    .expect("update of a live session");
                changes.apply_to(record);
            }
            Some(StoreWrite::Rotate { from, to, changes }) => {
                let mut record = self
                    .store
                    .remove(from.as_bytes())
                    .expect("rotate of a live session");
                changes.apply_to(&mut record);
                assert!(self.store.insert(*to.as_bytes(), record).is_none());
            }
            Some(StoreWrite::Touch {
                key,
                last_seen,
                expires_at,
            }) => {
                let record = self
                    .store
                    .get_mut(key.as_bytes())
                    .expect("touch of a live session");
                record.meta.last_seen = last_seen;
                assert_eq!(record.meta.expires_at(), expires_at);
            }
        }
        match decision.cookie {
            None => {}
            Some(CookieUpdate::Set { id, max_age }) => {
                assert_eq!(max_age, None, "browser-session cookies by default");
                if let Some(old) = self.cookie.replace(id) {
                    self.old_cookies.push(old);
                }
            }
            Some(CookieUpdate::Remove) => {
                if let Some(old) = self.cookie.take() {
                    self.old_cookies.push(old);
                }
            }
        }
    }

    fn request(&mut self, actions: &[Action]) {
        let now = Timestamp::from_unix_secs(self.now);
        let had_cookie = self.cookie.is_some();
        let lookup = match &self.cookie {
            Some(id) => CookieLookup::Found(id.clone()),
            None => CookieLookup::Absent,
        };
        let mut state = match lookup {
            CookieLookup::Found(id) => {
                let id = KeyedSessionId::from(id);
                let record = self.store.get(id.key().as_bytes()).cloned();
                SessionState::resume(id, record, false, now, &self.policy)
            }
            _ => SessionState::fresh(now, &self.policy),
        };

        // The model's view of the same request.
        let mut model = self.model.clone().filter(|m| m.alive(self.now));
        if had_cookie {
            assert_eq!(state.load_status() == LoadStatus::Live, model.is_some());
            assert_ne!(state.load_status(), LoadStatus::NoCookie);
        } else {
            assert_eq!(state.load_status(), LoadStatus::NoCookie);
        }
        let existed = model.is_some();
        let mut data = model.as_ref().map(|m| m.data.clone()).unwrap_or_default();
        let mut user = model.as_ref().and_then(|m| m.user.clone());
        let (mut modified, mut renew, mut destroyed, mut alive_before_destroy) =
            (false, false, false, existed);
        for action in actions {
            match action {
                Action::Get(k) => {
                    assert_eq!(
                        state.get(&k.to_string()),
                        data.get(&k.to_string()).map(Vec::as_slice)
                    );
                }
                Action::Insert(k, v) => {
                    state.insert(&k.to_string(), vec![*v]);
                    data.insert(k.to_string(), vec![*v]);
                    modified = true;
                }
                Action::Remove(k) => {
                    let was = data.remove(&k.to_string()).is_some();
                    assert_eq!(state.remove(&k.to_string()), was);
                    modified |= was;
                }
                Action::Clear => {
                    modified |= !data.is_empty();
                    state.clear();
                    data.clear();
                }
                Action::Renew => {
                    state.renew();
                    renew = true;
                }
                Action::Destroy => {
                    state.destroy();
                    data.clear();
                    user = None;
                    model = None;
                    destroyed = true;
                    alive_before_destroy = false;
                    modified = false;
                    renew = false;
                }
                Action::SetUser(u) => {
                    let u = u.map(|u| format!("user{u}"));
                    modified |= u != user;
                    // Binding another user is a login: a new id, as with renew.
                    renew |= u.is_some() && u != user;
                    state.set_user(u.as_deref());
                    user = u;
                }
            }
        }
        let old_cookie = self.cookie.clone();
        let decision = state.finish(&mut self.rng);
        // An anonymous request that writes nothing gets no cookie and creates nothing.
        if !had_cookie && !destroyed && data.is_empty() && user.is_none() {
            assert!(decision.is_noop(), "{decision:?}");
        }
        self.carry_out(decision);

        self.model = match model {
            Some(mut m) if alive_before_destroy => {
                m.data = data;
                m.user = user;
                if renew {
                    m.started = self.now;
                    m.last_seen = self.now;
                    assert_ne!(self.cookie, old_cookie, "renew gives a new id");
                } else if modified || self.now - m.last_seen >= TOUCH {
                    m.last_seen = self.now;
                    assert_eq!(self.cookie, old_cookie);
                }
                Some(m)
            }
            _ if !data.is_empty() || user.is_some() => {
                assert!(
                    self.cookie.is_some() && self.cookie != old_cookie,
                    "a new session gets a new id"
                );
                Some(Model {
                    data,
                    user,
                    last_seen: self.now,
                    started: self.now,
                })
            }
            _ => {
                if destroyed {
                    assert!(self.cookie.is_none(), "destroy sends the removal cookie");
                }
                None
            }
        };
        // A bound session's id carries its user's shard tag.
        if let (Some(m), Some(id)) = (&self.model, &self.cookie) {
            if let Some(user) = &m.user {
                assert_eq!(id.shard_tag(), ShardTag::for_user(user), "tag of {user}");
            }
        }
        // Every id the client held before is dead.
        for old in &self.old_cookies {
            if Some(old) != self.cookie.as_ref() {
                let record = self.store.get(old.store_key().as_bytes()).cloned();
                let replay =
                    SessionState::resume(old.clone().into(), record, false, now, &self.policy);
                assert_ne!(
                    replay.load_status(),
                    LoadStatus::Live,
                    "an old id still works"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn state_machine_matches_model(seed in any::<u64>(), steps in proptest::collection::vec(step(), 1..40)) {
        let mut world = World::new(seed);
        for step in &steps {
            match step {
                Step::Request(actions) => world.request(actions),
                Step::Wait(secs) => world.now += secs,
                Step::ForgeCookie => {
                    // The real session is orphaned (it lives on in the store until it
                    // expires); the forged id must not be adopted.
                    let forged = SessionId::generate(&mut ChaCha20Rng::seed_from_u64(world.now));
                    world.old_cookies.push(forged.clone());
                    world.cookie = Some(forged);
                    world.model = None;
                }
                Step::ReplayOld => {
                    if let Some(old) = world.old_cookies.first().cloned() {
                        world.cookie = Some(old.clone());
                        world.model = None;
                        // A replayed old id must be dead: the request must see no session.
                        let now = Timestamp::from_unix_secs(world.now);
                        let id = KeyedSessionId::from(old);
                        let record = world.store.get(id.key().as_bytes()).cloned();
                        let state = SessionState::resume(id, record, false, now, &world.policy);
                        prop_assert_ne!(state.load_status(), LoadStatus::Live);
                    }
                }
            }
            // Nothing in the store outlives its deadline by being read.
            let now = Timestamp::from_unix_secs(world.now);
            if let Some(m) = &world.model {
                let id = world.cookie.clone().unwrap();
                let stored = world.store.get(id.store_key().as_bytes()).unwrap();
                prop_assert_eq!(stored.meta.is_expired(now), !m.alive(world.now));
            }
        }
    }
}

#[test]
fn regression_update_then_read() {
    let mut world = World::new(0);
    world.request(&[Action::Insert(1, 0)]);
    world.request(&[Action::Insert(1, 1)]);
    world.request(&[Action::Get(1)]);
}
