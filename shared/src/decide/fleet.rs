//! Fleet incidents, as plain values: when one tool fails for many customers at once (its
//! API or Kombo's connector for it changed), on-call gets one incident for that tool and
//! kind instead of a page per customer.
//!
//! Every failure of a kind (a failed connection flow; an integration turning INVALID, by
//! webhook or reconcile; a paging issue) is counted on its tool's fleet record
//! ([`Strike`]) under its **customer** (`origin_id`: a tenant weighs one however many
//! integrations or attempts it has): when it last failed, how often, and whether it is
//! **established** (it has a live integration: an INVALID or an issue always is; a failed
//! connection is when the customer has one). What the record held before the strike decides
//! ([`judge`]): below [`Fleet::customers`] distinct established customers within
//! [`Fleet::window`] the customer is paged as before (sign-ups never open an incident); at
//! the threshold one incident opens (one page, the customers so far); while it is open,
//! further customers page nobody and are counted on it, except that an established
//! customer's first failure in it still sends one low-urgency notice. An incident lives while
//! at least two of its customers fail within a window (one alone cannot hold it) and at most
//! [`Fleet::max_life`]; after it a wave that goes on opens a new one, which pages. The sweep
//! sends at most one update per window while it grows and one "incident over" at its end
//! ([`update_notice`], [`over_notice`]). A record lists at most [`MEMBER_CAP`] customers,
//! names capped at [`NAME_CAP`]: beyond that customers are only counted.

use serde_json::json;
use time::Duration;

use super::alert::{Alert, AlertKind, sns_subject};
use super::failures::{Failure, FailureKind, Resolution, customer_in_key, customer_of};
use super::row::StateUpdate;
use crate::keys;

/// Which failures an incident is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FleetKind {
    /// `connection-flow-failed`.
    ConnectionFailures,
    /// An integration turning `INVALID` (`integration-state-changed`, or the reconcile run).
    Invalid,
    /// A customer's integration issue that pages (`issue-status-changed` raised).
    Issues,
}

impl FleetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FleetKind::ConnectionFailures => "connection-failures",
            FleetKind::Invalid => "integration-invalid",
            FleetKind::Issues => "integration-issues",
        }
    }

    pub fn parse(s: &str) -> Option<FleetKind> {
        match s {
            "connection-failures" => Some(FleetKind::ConnectionFailures),
            "integration-invalid" => Some(FleetKind::Invalid),
            "integration-issues" => Some(FleetKind::Issues),
            _ => None,
        }
    }

    /// "Kombo connections failing", "Kombo integrations INVALID".
    fn headline(self) -> &'static str {
        match self {
            FleetKind::ConnectionFailures => "Kombo connections failing",
            FleetKind::Invalid => "Kombo integrations INVALID",
            FleetKind::Issues => "Kombo integration issues",
        }
    }

    /// The JSON keys of the customers better since and not: `recovered`/`still_invalid`,
    /// `connected`/`not_connected`.
    fn better(self) -> (&'static str, &'static str) {
        match self {
            FleetKind::ConnectionFailures => ("connected", "not_connected"),
            FleetKind::Invalid => ("recovered", "still_invalid"),
            FleetKind::Issues => ("resolved", "still_open"),
        }
    }

    /// The same as a notice's labels.
    fn labels(self) -> (&'static str, &'static str) {
        match self {
            FleetKind::ConnectionFailures => ("Connected since", "Not connected"),
            FleetKind::Invalid => ("Recovered", "Still INVALID"),
            FleetKind::Issues => ("Resolved", "Still open"),
        }
    }

    /// "no connection to workday failed", "no integration of workday turned INVALID".
    fn quiet(self, tool: &str) -> String {
        match self {
            FleetKind::ConnectionFailures => format!("no connection to {tool} failed"),
            FleetKind::Invalid => format!("no integration of {tool} turned INVALID"),
            FleetKind::Issues => format!("no issue of an integration of {tool} was raised"),
        }
    }
}

/// `FLEET_INCIDENT_CUSTOMERS`, `FLEET_WINDOW_SECONDS` and `FLEET_INCIDENT_MAX_HOURS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fleet {
    /// Distinct established customers within [`Self::window`] that open an incident
    /// (default 3).
    pub customers: u32,
    /// How far back customers count, and how long an incident must be quiet to end
    /// (default 600 s).
    pub window: Duration,
    /// The longest an incident lives (default 4 h): then it ends, and a wave that goes on
    /// opens (and pages) a new one.
    pub max_life: Duration,
}

/// Customers a fleet record lists; beyond it they are only counted (`overflow`), so the
/// item stays far below DynamoDB's 400 KB whatever the storm.
pub const MEMBER_CAP: usize = 200;
/// Characters of an organization name a fleet record keeps.
pub const NAME_CAP: usize = 100;
/// Bytes of a customer id a fleet record names a customer by; a longer one by its prefix
/// and a hash.
const CUSTOMER_CAP: usize = keys::CUSTOMER_CAP;

/// `s` cut to `n` characters (an ellipsis marks the cut).
fn capped(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

/// How a fleet record names `customer`: as it is, or, if longer than [`CUSTOMER_CAP`]
/// bytes, by its first 40 bytes (whole characters) and a hash of the whole, so a record's
/// attribute names stay short whatever `origin_id` is ([`keys::bounded_customer`]: a failure
/// record's key names a customer too long for it the same way, so the two always agree).
pub fn member_key(customer: &str) -> String {
    keys::bounded_customer(customer, CUSTOMER_CAP)
}

impl Fleet {
    pub fn window_ms(&self) -> i64 {
        i64::try_from(self.window.whole_milliseconds()).unwrap_or(i64::MAX)
    }

    pub fn max_life_ms(&self) -> i64 {
        i64::try_from(self.max_life.whole_milliseconds()).unwrap_or(i64::MAX)
    }

    fn hours(&self) -> String {
        let h = self.max_life.whole_hours();
        if h == 1 {
            "1 hour".into()
        } else if h > 1 {
            format!("{h} hours")
        } else {
            format!("{} min", self.max_life.whole_minutes())
        }
    }

    fn minutes(&self) -> String {
        let s = self.window.whole_seconds();
        if s % 60 == 0 {
            format!("{} min", s / 60)
        } else {
            format!("{s} s")
        }
    }
}

/// The key of the fleet record of one tool and kind in the records table.
pub fn fleet_key(kind: FleetKind, tool: &str) -> String {
    keys::fleet_record(kind.as_str(), tool)
}

/// One failure as its tool's fleet record counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Strike {
    pub kind: FleetKind,
    pub tool: String,
    pub category: String,
    /// Who failed: the customer (`origin_id`, or the organization for one without), as
    /// [`member_key`] names it: each tenant is one, however many integrations it has.
    pub customer: String,
    pub organization: String,
    /// The Kombo log of the failed flow, or the integration id.
    pub reference: String,
    pub event_id: String,
    /// The customer has a live integration (an INVALID's or an issue's always has; a failed
    /// connection's is known once its customer's rows are read): only established
    /// customers open an incident.
    pub established: bool,
}

impl Strike {
    pub fn key(&self) -> String {
        fleet_key(self.kind, &self.tool)
    }

    /// A failed connection flow (not known to be established until its customer's rows
    /// are read), or an issue's page (established: the integration exists), counted for its
    /// failure record's customer.
    pub fn of_failure(f: &Failure) -> Strike {
        let customer = customer_in_key(&f.key, &f.tool).unwrap_or(&f.key);
        Strike {
            kind: match f.kind {
                FailureKind::ConnectionFlow => FleetKind::ConnectionFailures,
                FailureKind::Issue => FleetKind::Issues,
            },
            tool: f.tool.clone(),
            category: f.category.clone(),
            customer: member_key(customer),
            organization: capped(&f.organization_name, NAME_CAP),
            reference: capped(&f.log_url, 2 * NAME_CAP),
            event_id: f.event_id.clone(),
            established: f.kind == FailureKind::Issue,
        }
    }

    /// An integration turning INVALID, counted for its customer (`None`: its tool is not
    /// known, so no fleet).
    pub fn of_invalid(u: &StateUpdate, event_id: &str) -> Option<Strike> {
        let d = &u.descriptive;
        let tool = d.tool.clone().filter(|t| !t.is_empty())?;
        let org = d.organization_name.clone().unwrap_or_default();
        Some(Strike {
            kind: FleetKind::Invalid,
            tool,
            category: d.category.clone().unwrap_or_default(),
            customer: Self::customer_of_update(u),
            organization: capped(&org, NAME_CAP),
            reference: capped(&u.integration_id, 2 * NAME_CAP),
            event_id: event_id.to_owned(),
            established: true,
        })
    }

    /// The customer an integration's state update is counted for.
    pub fn customer_of_update(u: &StateUpdate) -> String {
        let d = &u.descriptive;
        member_key(&keys::customer(
            d.origin_id.as_deref(),
            d.organization_name.as_deref().unwrap_or_default(),
        ))
    }

    /// Where a create that resolves a customer's failures marks it connected: its tool's
    /// connection-failures record, and the customer as a strike names it.
    pub fn connected(r: &Resolution) -> (String, String) {
        (
            fleet_key(FleetKind::ConnectionFailures, &r.tool),
            customer_of(&r.end_user),
        )
    }

    /// Where the customer's recovery is counted: its INVALID kind's record, if the tool is
    /// known.
    pub fn recovery_key(u: &StateUpdate) -> Option<String> {
        let tool = u.descriptive.tool.as_deref().filter(|t| !t.is_empty())?;
        Some(fleet_key(FleetKind::Invalid, tool))
    }
}

/// What counting a strike on its fleet record found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Struck {
    /// The record before the strike; for a repeat, as it stands (the strike counted).
    pub before: FleetRecord,
    /// An earlier try of the same event counted it: nothing written.
    pub repeat: bool,
}

/// What opening an incident found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// This event opened it (now, or on an earlier try): page it.
    Ours,
    /// Another strike opened one first: this one is counted on it.
    Other,
}

impl Opened {
    /// A refused opening (an incident is open): this event's own earlier try if the record
    /// names it as the opener (its page may not have gone out), else another's.
    pub fn refused(opened_by: Option<&str>, event_id: &str) -> Opened {
        if opened_by == Some(event_id) {
            Opened::Ours
        } else {
            Opened::Other
        }
    }
}

/// A customer on a fleet record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub customer: String,
    pub organization: String,
    pub reference: String,
    /// Its last failure (epoch ms).
    pub last_ms: i64,
    /// Its first failure on the record (epoch ms): when it joined an incident.
    pub first_ms: i64,
    /// Failures counted.
    pub failures: u32,
    /// Its last strike's place in the record's order of strikes (1, 2, ...).
    pub seq: u64,
    /// ACTIVE again since it last turned INVALID; for connection failures, connected since
    /// it last failed.
    pub recovered: bool,
    /// It has a live integration ([`Strike::established`]).
    pub established: bool,
}

/// An open incident, as its record holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub id: String,
    /// The event whose failure opened it (its retry pages again), and that strike's place
    /// in the record's order.
    pub opened_by: String,
    pub opened_seq: u64,
    pub opened_ms: i64,
    /// Customers whose last failure is at or after this are the incident's.
    pub since_ms: i64,
    /// The customers the last page or update reported, and when it went out.
    pub reported: u32,
    pub reported_ms: i64,
}

impl Incident {
    /// The incident `id` that `strike` opens at `now_ms` on `after` (its record with the
    /// strike counted), its customers failing since `since_ms`: they are what its page
    /// reports.
    pub fn opening(
        after: &FleetRecord,
        strike: &Strike,
        id: String,
        since_ms: i64,
        now_ms: i64,
    ) -> Incident {
        let opened_seq = after
            .members
            .iter()
            .find(|m| m.customer == strike.customer)
            .map_or(0, |m| m.seq);
        Incident {
            id,
            opened_by: strike.event_id.clone(),
            opened_seq,
            opened_ms: now_ms,
            since_ms,
            reported: u32::try_from(since(after, since_ms).len()).unwrap_or(u32::MAX),
            reported_ms: now_ms,
        }
    }
}

/// One tool and kind's fleet record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetRecord {
    pub key: String,
    pub kind: FleetKind,
    pub tool: String,
    pub category: String,
    /// In the order of their last failures (a strike moves its customer to the end).
    pub members: Vec<Member>,
    pub incident: Option<Incident>,
    /// The last strike's time (epoch ms), as its writer saw it.
    pub last_ms: i64,
    /// Strikes counted so far (the last one's place in their order).
    pub seq: u64,
    /// Strikes of customers not listed: the record held [`MEMBER_CAP`] already.
    pub overflow: u32,
}

impl FleetRecord {
    /// A record nothing was counted on yet.
    pub fn empty(kind: FleetKind, tool: &str) -> FleetRecord {
        FleetRecord {
            key: fleet_key(kind, tool),
            kind,
            tool: tool.to_owned(),
            category: String::new(),
            members: Vec::new(),
            incident: None,
            last_ms: 0,
            seq: 0,
            overflow: 0,
        }
    }

    /// The incident's customers (none without one): those failing since it opened a
    /// window back, up to the first pause of a whole window (a customer failing after the
    /// incident went quiet is the start of something new).
    pub fn incident_members(&self, fleet: &Fleet) -> Vec<&Member> {
        match &self.incident {
            Some(i) => chain(self.members.iter(), i.since_ms, fleet.window_ms()),
            None => Vec::new(),
        }
    }

    /// Whether `customer` (as a failure record or an update names it) is counted on the
    /// incident.
    pub fn in_incident(&self, customer: &str, fleet: &Fleet) -> bool {
        let customer = member_key(customer);
        self.incident_members(fleet)
            .iter()
            .any(|m| m.customer == customer)
    }

    /// The incident is over: past its maximum life, or no customer joined it for a whole
    /// window (a customer already counted failing again does not keep it open).
    pub fn incident_over(&self, fleet: &Fleet, now_ms: i64) -> bool {
        self.incident.as_ref().is_some_and(|i| {
            let members = self.incident_members(fleet);
            !alive(&members, i, fleet, now_ms)
        })
    }

    /// The incident ended (or ends) because it reached [`Fleet::max_life`].
    pub fn past_max_life(&self, fleet: &Fleet, now_ms: i64) -> bool {
        self.incident
            .as_ref()
            .is_some_and(|i| now_ms - i.opened_ms > fleet.max_life_ms())
    }

    /// The record with `strike` counted at `now_ms`; `repeat`: it is counted already (the
    /// record shows it as it stands, this strike included).
    pub fn with_strike(&self, strike: &Strike, repeat: bool, now_ms: i64) -> FleetRecord {
        let mut after = self.clone();
        if repeat {
            return after;
        }
        after.seq += 1;
        let seq = after.seq;
        match after
            .members
            .iter()
            .position(|m| m.customer == strike.customer)
        {
            Some(at) => {
                // The latest failure: last in the order.
                let mut m = after.members.remove(at);
                m.last_ms = now_ms;
                m.seq = seq;
                m.failures += 1;
                m.reference.clone_from(&strike.reference);
                m.organization.clone_from(&strike.organization);
                m.recovered = false;
                m.established |= strike.established;
                after.members.push(m);
            }
            None if after.members.len() >= MEMBER_CAP => after.overflow += 1,
            None => after.members.push(Member {
                customer: strike.customer.clone(),
                organization: strike.organization.clone(),
                reference: strike.reference.clone(),
                last_ms: now_ms,
                first_ms: now_ms,
                failures: 1,
                seq,
                recovered: false,
                established: strike.established,
            }),
        }
        after.last_ms = now_ms;
        after
    }
}

/// The customers failing since `since_ms` without a pause of more than `window_ms`, of
/// `members` in the order of their last failures.
fn chain<'a>(
    members: impl Iterator<Item = &'a Member>,
    since_ms: i64,
    window_ms: i64,
) -> Vec<&'a Member> {
    let mut out: Vec<&Member> = Vec::new();
    for m in members.filter(|m| m.last_ms >= since_ms) {
        if out
            .last()
            .is_some_and(|p| m.last_ms - p.last_ms > window_ms)
        {
            break;
        }
        out.push(m);
    }
    out
}

/// Whether `incident` (its customers `members`) is still open at `now_ms`: inside its
/// maximum life, and a customer joined it (its first failure, or the opening) within the
/// last window. A customer already counted failing again does not keep it open: one
/// customer, or a few taking turns, cannot hold it.
fn alive(members: &[&Member], incident: &Incident, fleet: &Fleet, now_ms: i64) -> bool {
    if now_ms - incident.opened_ms > fleet.max_life_ms() {
        return false;
    }
    let joined = members
        .iter()
        .map(|m| m.first_ms)
        .fold(incident.opened_ms, i64::max);
    joined >= now_ms - fleet.window_ms()
}

/// What a strike means for on-call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No incident and below the threshold: the customer's own page (or fold), as ever.
    Alone,
    /// An incident is open: counted on it, the customer's own page folded into it; `notice`:
    /// an established customer's first failure in it, which still sends one low-urgency
    /// notice of its own.
    InIncident { incident_id: String, notice: bool },
    /// This strike reached the threshold (or is a retry of the one that did): open the
    /// incident `incident_id` with the customers failing since `since_ms`, and page it.
    Open { incident_id: String, since_ms: i64 },
}

/// Decides a strike at `now_ms` from the record as it stood before it. A `repeat` (the
/// record as it stands, the strike counted by another delivery or an earlier try of the same
/// event) is decided as that strike was: as of its time, from the strikes before it in the
/// record's order, so every delivery of one event comes to the same verdict whichever of
/// them holds the claim.
pub fn judge(
    before: &FleetRecord,
    strike: &Strike,
    repeat: bool,
    fleet: &Fleet,
    now_ms: i64,
) -> Verdict {
    let own = before
        .members
        .iter()
        .find(|m| m.customer == strike.customer)
        .filter(|_| repeat)
        .map(|m| (m.last_ms, m.seq));
    let (now_ms, own_seq) = own.unwrap_or((now_ms, u64::MAX));
    let since_ms = now_ms - fleet.window_ms();
    // What others did before it.
    let others = before
        .members
        .iter()
        .filter(|m| own.is_none() || (m.customer != strike.customer && m.seq < own_seq));
    let incident = before
        .incident
        .as_ref()
        .filter(|i| i.opened_by == strike.event_id || i.opened_seq < own_seq);
    if let Some(incident) = incident {
        if incident.opened_by == strike.event_id {
            return Verdict::Open {
                incident_id: incident.id.clone(),
                since_ms: incident.since_ms,
            };
        }
        let members = chain(others, incident.since_ms, fleet.window_ms());
        return if alive(&members, incident, fleet, now_ms) {
            Verdict::InIncident {
                incident_id: incident.id.clone(),
                notice: strike.established
                    && !members.iter().any(|m| m.customer == strike.customer),
            }
        } else {
            // Over (past its life, or nobody joined it for a window), not yet ended by the
            // sweep: customers are paged on their own until the sweep ends it
            // (a wave that goes on then opens a new one).
            Verdict::Alone
        };
    }
    // Distinct established customers (sign-ups never open an incident): one entry each,
    // this one's counted once.
    let customers = usize::from(strike.established)
        + others
            .filter(|m| m.last_ms >= since_ms && m.customer != strike.customer && m.established)
            .count();
    if u32::try_from(customers).unwrap_or(u32::MAX) >= fleet.customers {
        Verdict::Open {
            incident_id: keys::incident(strike.kind.as_str(), &strike.tool, now_ms),
            since_ms,
        }
    } else {
        Verdict::Alone
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// Customers listed by name in a notice; the rest are counted.
pub const LISTED: usize = 10;

fn customers(n: usize) -> String {
    if n == 1 {
        "1 customer".into()
    } else {
        format!("{n} customers")
    }
}

/// An incident's customers and their figures, counted once for a notice's text, fields
/// and JSON.
struct Tally<'a> {
    members: Vec<&'a Member>,
    failures: u64,
    /// Better since: recovered (INVALID) or connected (connection failures).
    recovered: usize,
    /// Customers counted but not listed on the record (it was full).
    overflow: usize,
}

impl<'a> Tally<'a> {
    fn of(members: Vec<&'a Member>, r: &FleetRecord) -> Tally<'a> {
        Tally {
            failures: members.iter().map(|m| u64::from(m.failures)).sum::<u64>()
                + u64::from(r.overflow),
            recovered: members.iter().filter(|m| m.recovered).count(),
            overflow: r.overflow as usize,
            members,
        }
    }

    fn customers(&self) -> usize {
        self.members.len() + self.overflow
    }

    /// Still INVALID, or not connected.
    fn worse(&self) -> usize {
        self.customers() - self.recovered
    }
}

/// The incident's figures and its customers, as the JSON rendering's `incident` object.
fn incident_json(r: &FleetRecord, id: &str, t: &Tally) -> serde_json::Value {
    let listed: Vec<_> = t
        .members
        .iter()
        .take(LISTED)
        .map(|m| {
            let mut v = json!({
                "customer": m.customer,
                "organization": m.organization,
                "failures": m.failures,
            });
            let reference = if r.kind == FleetKind::Invalid {
                "integration_id"
            } else {
                "log_url"
            };
            v[reference] = json!(m.reference);
            v[r.kind.better().0] = json!(m.recovered);
            v
        })
        .collect();
    let (better, worse) = r.kind.better();
    let mut v = json!({
        "incident_id": id,
        "tool": r.tool,
        "kind": r.kind.as_str(),
        "customers": t.customers(),
        "failures": t.failures,
        "list": listed,
        "not_listed": t.customers().saturating_sub(LISTED),
    });
    v[better] = json!(t.recovered);
    v[worse] = json!(t.worse());
    v
}

/// A notice about the incident `id` of `r` with its customers `t`: the figures and the list.
fn notice(
    kind: AlertKind,
    r: &FleetRecord,
    id: &str,
    t: &Tally,
    subject: String,
    summary: String,
    next_steps: Vec<String>,
) -> Alert {
    let mut fields: Vec<(String, String)> = vec![
        ("Tool".into(), r.tool.clone()),
        ("Category".into(), r.category.clone()),
        ("Kind".into(), r.kind.as_str().into()),
        ("Customers".into(), t.customers().to_string()),
        ("Failures".into(), t.failures.to_string()),
    ];
    if kind != AlertKind::FleetIncident {
        let (better, worse) = r.kind.labels();
        fields.push((worse.into(), t.worse().to_string()));
        fields.push((better.into(), t.recovered.to_string()));
    }
    for m in t.members.iter().take(LISTED) {
        let mut line = if m.customer == m.reference {
            format!("{}: {}", m.organization, m.reference)
        } else {
            format!("{} ({}): {}", m.organization, m.customer, m.reference)
        };
        if m.failures > 1 {
            line.push_str(&format!(", {} failures", m.failures));
        }
        if m.recovered {
            line.push_str(&format!(", {}", r.kind.labels().0.to_lowercase()));
        }
        fields.push(("Customer".into(), line));
    }
    if t.customers() > LISTED {
        fields.push((
            "Not listed".into(),
            format!("{} more", t.customers() - LISTED),
        ));
    }
    fields.push(("Incident id".into(), id.to_owned()));
    let mut alert = Alert {
        kind,
        subject: sns_subject(&subject),
        message: String::new(),
        summary,
        fields,
        next_steps,
        thread_id: format!("kombo-fleet-{}-{}", r.kind.as_str(), r.tool),
        event_id: id.to_owned(),
        log_url: None,
        attributes: vec![
            ("event_type", kind.as_str().to_owned()),
            ("tool", r.tool.clone()),
            ("category", r.category.clone()),
            ("fleet_kind", r.kind.as_str().to_owned()),
        ],
        incident: Some(incident_json(r, id, t)),
    };
    alert.rebuild_message();
    alert
}

/// The incident's customers in `r` (the record with the opening strike counted), failing
/// since `since_ms`.
fn since(r: &FleetRecord, since_ms: i64) -> Vec<&Member> {
    r.members.iter().filter(|m| m.last_ms >= since_ms).collect()
}

/// The incident page: "Kombo connections failing for workday: 3 customers in 10 min".
/// `r`: the record with the opening strike counted.
pub fn incident_page(r: &FleetRecord, id: &str, since_ms: i64, fleet: &Fleet) -> Alert {
    let t = Tally::of(since(r, since_ms), r);
    let head = format!(
        "{} for {}: {} in {}",
        r.kind.headline(),
        r.tool,
        customers(t.customers()),
        fleet.minutes()
    );
    notice(
        AlertKind::FleetIncident,
        r,
        id,
        &t,
        head.clone(),
        format!(
            "{head} — likely the tool or Kombo, not the customers. Further customers page \
             nobody: they are counted on this incident, with an update at most every {} while \
             it grows, and its end once {} pass without a new customer (or after {} at most), \
             in this thread.",
            fleet.minutes(),
            fleet.minutes(),
            fleet.hours()
        ),
        vec![
            format!(
                "Check the status of {} and of Kombo (https://status.kombo.dev); open a \
                 ticket with Kombo if it is their connector",
                r.tool
            ),
            "The customers need nothing from you until it is fixed: their own pages are \
             folded into this incident (a customer with live integrations failing in it gets \
             one low-urgency notice of its own)"
                .to_owned(),
        ],
    )
}

/// The sweep's update of an incident that grew: "now 17 customers".
pub fn update_notice(r: &FleetRecord, fleet: &Fleet) -> Option<Alert> {
    let incident = r.incident.as_ref()?;
    let t = Tally::of(r.incident_members(fleet), r);
    let head = format!(
        "{} for {}: now {}",
        r.kind.headline(),
        r.tool,
        customers(t.customers())
    );
    Some(notice(
        AlertKind::FleetIncidentUpdate,
        r,
        &incident.id,
        &t,
        head.clone(),
        format!(
            "{head} ({} more since the last message) — still open: it ends once {} pass \
             without a new customer (or {} after it opened at most).",
            t.customers().saturating_sub(incident.reported as usize),
            fleet.minutes(),
            fleet.hours()
        ),
        vec![format!(
            "Keep following {}'s and Kombo's status; nothing per customer yet",
            r.tool
        )],
    ))
}

/// The sweep's end of an incident at `now_ms`: quiet for a whole window, only one of its
/// customers failing lately, or past its maximum life.
pub fn over_notice(r: &FleetRecord, fleet: &Fleet, now_ms: i64) -> Option<Alert> {
    let incident = r.incident.as_ref()?;
    let t = Tally::of(r.incident_members(fleet), r);
    let (tail, steps) = match r.kind {
        FleetKind::ConnectionFailures => (
            format!(
                "{}, {} failed attempts in all; {} connected since.",
                customers(t.customers()),
                t.failures,
                t.recovered
            ),
            "Offer the customers listed a new link if they have not connected since: \
             POST /customers/{origin_id}/connection-link",
        ),
        FleetKind::Invalid => (
            format!(
                "{}: {} still INVALID, {} recovered.",
                customers(t.customers()),
                t.worse(),
                t.recovered
            ),
            "Send the customers still INVALID a reconnection link (the same integration \
             comes back; never a new connection link): \
             POST /customers/{origin_id}/integrations/{integration_id}/reconnection-link",
        ),
        FleetKind::Issues => (
            format!(
                "{}: {} still open, {} resolved.",
                customers(t.customers()),
                t.worse(),
                t.recovered
            ),
            "Look at the issues still open in Kombo's dashboard; for a failing login, send \
             the customer a reconnection link: \
             POST /customers/{origin_id}/integrations/{integration_id}/reconnection-link",
        ),
    };
    let subject = format!(
        "Over: {} for {} ({})",
        r.kind.headline(),
        r.tool,
        customers(t.customers())
    );
    Some(notice(
        AlertKind::FleetIncidentOver,
        r,
        &incident.id,
        &t,
        subject,
        {
            let quiet = t
                .members
                .iter()
                .all(|m| m.last_ms < now_ms - fleet.window_ms());
            if r.past_max_life(fleet, now_ms) {
                format!(
                    "It reached its maximum life ({}): the incident is over. {tail} Failures \
                     from now on page again; if the wave goes on, a new incident opens (and \
                     pages).",
                    fleet.hours()
                )
            } else if quiet {
                format!(
                    "{} for {}: the incident is over. {tail} A failure from now on starts \
                     from zero.",
                    capitalized(&r.kind.quiet(&r.tool)),
                    fleet.minutes(),
                )
            } else {
                format!(
                    "No new customer joined it for {}: the incident is over (customers already \
                     counted failing again do not hold it). {tail} A failure from now on starts \
                     from zero.",
                    fleet.minutes(),
                )
            }
        },
        vec![steps.to_owned()],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLEET: Fleet = Fleet {
        customers: 3,
        window: Duration::minutes(10),
        max_life: Duration::hours(4),
    };
    const MIN: i64 = 60_000;

    fn strike(customer: &str, event: &str) -> Strike {
        Strike {
            kind: FleetKind::ConnectionFailures,
            tool: "workday".into(),
            category: "HRIS".into(),
            customer: customer.into(),
            organization: format!("Org {customer}"),
            reference: format!("https://app.kombo.dev/logs/{event}"),
            event_id: event.into(),
            established: true,
        }
    }

    fn signup(customer: &str, event: &str) -> Strike {
        Strike {
            established: false,
            ..strike(customer, event)
        }
    }

    fn record(members: &[(&str, i64)]) -> FleetRecord {
        let mut r = FleetRecord::empty(FleetKind::ConnectionFailures, "workday");
        for (c, at) in members {
            r = r.with_strike(&strike(c, &format!("e-{c}")), false, *at);
        }
        r
    }

    fn with_incident(mut r: FleetRecord, opened_by: &str, at: i64) -> FleetRecord {
        r.incident = Some(Incident {
            id: "i1".into(),
            opened_by: opened_by.into(),
            opened_seq: 3,
            opened_ms: at,
            since_ms: at - 10 * MIN,
            reported: 3,
            reported_ms: at,
        });
        r
    }

    #[test]
    fn the_third_customer_within_the_window_opens_an_incident() {
        let now = 100 * MIN;
        let before = record(&[("a", now - 9 * MIN), ("b", now - MIN)]);
        assert_eq!(
            judge(&before, &strike("c", "e3"), false, &FLEET, now),
            Verdict::Open {
                incident_id: format!("connection-failures:workday:{now}"),
                since_ms: now - 10 * MIN
            }
        );
        // The second customer, or the same customer again, does not.
        let two = record(&[("a", now - MIN)]);
        assert_eq!(
            judge(&two, &strike("b", "e2"), false, &FLEET, now),
            Verdict::Alone
        );
        assert_eq!(
            judge(&before, &strike("b", "e4"), false, &FLEET, now),
            Verdict::Alone
        );
    }

    #[test]
    fn customers_older_than_the_window_do_not_count() {
        let now = 100 * MIN;
        let before = record(&[("a", now - 11 * MIN), ("b", now - MIN)]);
        assert_eq!(
            judge(&before, &strike("c", "e3"), false, &FLEET, now),
            Verdict::Alone
        );
    }

    #[test]
    fn a_repeat_counts_its_own_entry_once() {
        // A retry finds its own strike on the record: one other and itself make two.
        let now = 100 * MIN;
        let before = record(&[("a", now - MIN), ("c", now)]);
        assert_eq!(
            judge(&before, &strike("c", "e3"), true, &FLEET, now),
            Verdict::Alone
        );
    }

    #[test]
    fn a_repeat_is_decided_as_of_its_strike_whatever_came_after() {
        // The strike of `b` was the second; by the time a second delivery of it holds the
        // claim, two more customers struck (one in the same millisecond) and one of them
        // opened an incident.
        let t = 100 * MIN;
        let r = with_incident(
            record(&[("a", t - MIN), ("b", t), ("c", t), ("d", t + 2)]),
            "e-c",
            t + 1,
        );
        assert_eq!(
            judge(&r, &strike("b", "e-b"), true, &FLEET, t + 5_000),
            Verdict::Alone
        );
        // Not a repeat: a new failure of `b` now is counted on the incident.
        assert_eq!(
            judge(&r, &strike("b", "e-b2"), false, &FLEET, t + 5_000),
            Verdict::InIncident {
                incident_id: "i1".into(),
                notice: false
            }
        );
    }

    #[test]
    fn an_open_incident_takes_further_customers_and_its_opener_pages_again() {
        let now = 100 * MIN;
        let r = with_incident(
            record(&[("a", now - 3 * MIN), ("b", now - 2 * MIN), ("c", now - MIN)]),
            "e-c",
            now - MIN,
        );
        assert_eq!(
            judge(&r, &strike("d", "e4"), false, &FLEET, now),
            Verdict::InIncident {
                incident_id: "i1".into(),
                notice: true
            },
            "an established customer's first failure in it: a notice of its own"
        );
        assert_eq!(
            judge(&r, &signup("d", "e4"), false, &FLEET, now),
            Verdict::InIncident {
                incident_id: "i1".into(),
                notice: false
            },
            "a sign-up's: counted only"
        );
        assert_eq!(
            judge(&r, &strike("a", "e5"), false, &FLEET, now),
            Verdict::InIncident {
                incident_id: "i1".into(),
                notice: false
            },
            "one of its own again: counted only"
        );
        assert_eq!(
            judge(&r, &strike("c", "e-c"), true, &FLEET, now),
            Verdict::Open {
                incident_id: "i1".into(),
                since_ms: now - 11 * MIN
            }
        );
    }

    #[test]
    fn an_incident_quiet_for_a_window_takes_nobody_and_a_new_storm_starts_from_zero() {
        let now = 100 * MIN;
        let r = with_incident(
            record(&[
                ("a", now - 13 * MIN),
                ("b", now - 12 * MIN),
                ("c", now - 11 * MIN),
            ]),
            "e-c",
            now - 11 * MIN,
        );
        assert!(r.incident_over(&FLEET, now));
        assert_eq!(
            judge(&r, &strike("d", "e4"), false, &FLEET, now),
            Verdict::Alone
        );
    }

    #[test]
    fn a_customer_failing_after_the_incident_went_quiet_is_not_its_own() {
        let now = 100 * MIN;
        let r = with_incident(
            record(&[
                ("a", now - 30 * MIN),
                ("b", now - 29 * MIN),
                ("c", now - 28 * MIN),
                ("d", now - 20 * MIN),
                ("late", now - MIN),
            ]),
            "e-c",
            now - 28 * MIN,
        );
        let members: Vec<&str> = r
            .incident_members(&FLEET)
            .iter()
            .map(|m| m.customer.as_str())
            .collect();
        assert_eq!(members, ["a", "b", "c", "d"]);
        assert!(r.incident_over(&FLEET, now));
        assert!(!r.in_incident("late", &FLEET));
        // A new customer now: the old incident takes nobody, though "late" is fresh.
        assert_eq!(
            judge(&r, &strike("new", "e9"), false, &FLEET, now),
            Verdict::Alone
        );
    }

    #[test]
    fn notices_count_every_customer_and_list_the_first_ten() {
        let now = 100 * MIN;
        let names: Vec<String> = (0..12).map(|i| format!("c{i:02}")).collect();
        let members: Vec<(&str, i64)> = names.iter().map(|n| (n.as_str(), now - MIN)).collect();
        let mut r = with_incident(record(&members), "e-c02", now - MIN);
        r = r.with_strike(&strike("c00", "again"), false, now);
        let page = incident_page(&r, "i1", now - 10 * MIN, &FLEET);
        assert_eq!(
            page.subject,
            "Kombo connections failing for workday: 12 customers in 10 min"
        );
        assert_eq!(
            page.fields.iter().filter(|(l, _)| l == "Customer").count(),
            10
        );
        assert!(
            page.message.contains("Not listed: 2 more"),
            "{}",
            page.message
        );
        assert!(page.message.contains("Failures: 13"), "{}", page.message);
        let json = page.incident.as_ref().unwrap();
        assert_eq!(json["customers"], 12);
        assert_eq!(json["not_listed"], 2);
        assert_eq!(json["list"].as_array().unwrap().len(), 10);
        assert_eq!(page.thread_id, "kombo-fleet-connection-failures-workday");
        let over = over_notice(&r, &FLEET, now).unwrap();
        assert_eq!(over.kind, AlertKind::FleetIncidentOver);
        assert!(
            over.summary.contains("13 failed attempts"),
            "{}",
            over.summary
        );
    }

    #[test]
    fn an_invalid_incident_ends_with_how_many_recovered() {
        let now = 100 * MIN;
        let mut r = FleetRecord::empty(FleetKind::Invalid, "workday");
        for c in ["i1", "i2", "i3"] {
            let mut s = strike(c, &format!("e-{c}"));
            s.kind = FleetKind::Invalid;
            s.reference = c.into();
            r = r.with_strike(&s, false, now - MIN);
        }
        r.members[1].recovered = true;
        let r = with_incident(r, "e-i3", now - MIN);
        let over = over_notice(&r, &FLEET, now).unwrap();
        assert!(
            over.message.contains("Still INVALID: 2"),
            "{}",
            over.message
        );
        assert!(over.message.contains("Recovered: 1"), "{}", over.message);
        assert_eq!(over.incident.as_ref().unwrap()["still_invalid"], 2);
    }

    #[test]
    fn one_customer_is_one_however_many_integrations_or_attempts_it_has() {
        let now = 100 * MIN;
        // Three INVALID integrations of one customer: one customer, no incident.
        let before = record(&[("a", now - 2 * MIN)]);
        let before = before.with_strike(&strike("a", "e2"), false, now - MIN);
        assert_eq!(before.members.len(), 1);
        assert_eq!(
            judge(&before, &strike("a", "e3"), false, &FLEET, now),
            Verdict::Alone
        );
        // Strikes of one INVALID update name its customer, not the integration.
        use crate::decide::row::{Descriptive, StateFields};
        let mut u = StateUpdate {
            integration_id: "workday:1".into(),
            fields: StateFields {
                state: "INVALID".into(),
                setup_status: "COMPLETED".into(),
                qa_status: None,
                state_updated_at: "t".into(),
                state_updated_at_ms: 1,
                updated_at: "t".into(),
                last_event_id: "s1".into(),
            },
            descriptive: Descriptive {
                tool: Some("workday".into()),
                origin_id: Some("42".into()),
                ..Descriptive::default()
            },
            invalid: true,
            recovers: false,
            stored_qa_status: None,
        };
        let a = Strike::of_invalid(&u, "s1").unwrap();
        u.integration_id = "workday:2".into();
        let b = Strike::of_invalid(&u, "s2").unwrap();
        assert_eq!((a.customer.as_str(), a.established), ("42", true));
        assert_eq!(a.customer, b.customer);
        assert_ne!(a.reference, b.reference, "the integration is the reference");
    }

    #[test]
    fn sign_ups_never_open_an_incident_established_customers_do() {
        let now = 100 * MIN;
        let mut r = FleetRecord::empty(FleetKind::ConnectionFailures, "workday");
        for c in ["s1", "s2", "s3", "s4"] {
            assert_eq!(
                judge(&r, &signup(c, &format!("e-{c}")), false, &FLEET, now),
                Verdict::Alone,
                "{c}"
            );
            r = r.with_strike(&signup(c, &format!("e-{c}")), false, now);
        }
        // Two established customers and the sign-ups: still two.
        r = r.with_strike(&strike("a", "e-a"), false, now);
        assert_eq!(
            judge(&r, &strike("b", "e-b"), false, &FLEET, now),
            Verdict::Alone
        );
        r = r.with_strike(&strike("b", "e-b"), false, now);
        assert!(matches!(
            judge(&r, &strike("c", "e-c"), false, &FLEET, now),
            Verdict::Open { .. }
        ));
        assert_eq!(
            judge(&r, &signup("s5", "e-s5"), false, &FLEET, now),
            Verdict::Alone,
            "a sign-up does not make the third"
        );
    }

    #[test]
    fn an_incident_ends_at_its_maximum_life_and_a_wave_that_goes_on_pages_again() {
        let opened = 100 * MIN;
        let late = opened + 4 * 60 * MIN + 1;
        let mut r = record(&[("a", opened - 2 * MIN), ("b", opened - MIN), ("c", opened)]);
        // Kept busy all along: three customers failing within the last minute.
        for c in ["a", "b", "c"] {
            r = r.with_strike(&strike(c, &format!("late-{c}")), false, late - MIN);
        }
        let r = with_incident(r, "e-c", opened);
        assert!(r.past_max_life(&FLEET, late));
        assert!(r.incident_over(&FLEET, late));
        assert_eq!(
            judge(&r, &strike("d", "e-d"), false, &FLEET, late),
            Verdict::Alone,
            "past its life it takes nobody: paged on their own"
        );
        let over = over_notice(&r, &FLEET, late).unwrap();
        assert!(
            over.summary.contains("maximum life (4 hours)"),
            "{}",
            over.summary
        );
        // Its end forgets it: the wave, still on, opens a new incident.
        let mut ended = r.clone();
        ended.incident = None;
        assert!(matches!(
            judge(&ended, &strike("d", "e-d"), false, &FLEET, late),
            Verdict::Open { .. }
        ));
        // Before its life is up it stays open.
        assert!(!r.past_max_life(&FLEET, opened + 60 * MIN));
    }

    #[test]
    fn one_customer_alone_cannot_hold_an_incident_open() {
        let opened = 100 * MIN;
        let now = opened + 30 * MIN;
        let mut r = record(&[("a", opened - 2 * MIN), ("b", opened - MIN), ("c", opened)]);
        // Only `a` keeps failing, every nine minutes.
        for (i, at) in [9, 18, 27].iter().enumerate() {
            r = r.with_strike(&strike("a", &format!("a{i}")), false, opened + at * MIN);
        }
        let r = with_incident(r, "e-c", opened);
        assert_eq!(
            judge(&r, &strike("a", "a-now"), false, &FLEET, now),
            Verdict::Alone,
            "paged on its own"
        );
        assert!(r.incident_over(&FLEET, now));
        // Three taking turns (each every 27 minutes, one every 9): a failure every 9
        // minutes, yet nobody new joins: over once a window passed since the opening.
        let mut turns = record(&[("a", opened - 2 * MIN), ("b", opened - MIN), ("c", opened)]);
        for (i, at) in (9..=180).step_by(9).enumerate() {
            let who = ["a", "b", "c"][i % 3];
            turns = turns.with_strike(&strike(who, &format!("t{i}")), false, opened + at * MIN);
        }
        let turns = with_incident(turns, "e-c", opened);
        let now = opened + 181 * MIN;
        assert!(turns.incident_over(&FLEET, now));
        let over = over_notice(&turns, &FLEET, now).unwrap();
        assert!(
            over.summary.contains("No new customer joined it"),
            "{}",
            over.summary
        );
        assert_eq!(
            judge(&turns, &strike("d", "e-d"), false, &FLEET, now),
            Verdict::Alone,
            "a fourth, established customer is paged on its own"
        );
        // A new customer joining keeps it open.
        let mut joined = turns.clone();
        joined = joined.with_strike(&strike("e", "e-e"), false, now - MIN);
        assert!(!joined.incident_over(&FLEET, now));
        assert!(matches!(
            judge(&joined, &strike("d", "e-d"), false, &FLEET, now),
            Verdict::InIncident { notice: true, .. }
        ));
    }

    #[test]
    fn an_incident_new_customers_keep_joining_ends_at_its_maximum_life() {
        let opened = 100 * MIN;
        let mut r = record(&[("a", opened - 2 * MIN), ("b", opened - MIN), ("c", opened)]);
        // A new customer every five minutes for five hours: always someone new in the window.
        for i in 0..60 {
            r = r.with_strike(
                &strike(&format!("n{i}"), &format!("e{i}")),
                false,
                opened + (i + 1) * 5 * MIN,
            );
        }
        let r = with_incident(r, "e-c", opened);
        let life = FLEET.max_life_ms();
        assert!(
            !r.incident_over(&FLEET, opened + life),
            "alive up to its maximum life"
        );
        assert!(r.incident_over(&FLEET, opened + life + 1));
        assert!(r.past_max_life(&FLEET, opened + life + 1));
        let over = over_notice(&r, &FLEET, opened + life + 1).unwrap();
        assert!(over.summary.contains("4 hours"), "{}", over.summary);
    }

    #[test]
    fn a_record_lists_at_most_the_cap_and_counts_the_rest() {
        let now = 100 * MIN;
        let mut r = FleetRecord::empty(FleetKind::ConnectionFailures, "workday");
        for i in 0..MEMBER_CAP + 5 {
            r = r.with_strike(&strike(&format!("c{i}"), &format!("e{i}")), false, now);
        }
        assert_eq!((r.members.len(), r.overflow), (MEMBER_CAP, 5));
        let page = incident_page(&r, "i1", now - 10 * MIN, &FLEET);
        assert_eq!(page.incident.as_ref().unwrap()["customers"], MEMBER_CAP + 5);
        // Names and long customer ids are capped.
        let failure = Failure {
            kind: FailureKind::ConnectionFlow,
            key: crate::keys::failure_record(&"9".repeat(2_000), "workday"),
            origin_id: Some("9".repeat(2_000)),
            organization_name: "O".repeat(500),
            tool: "workday".into(),
            category: "LMS".into(),
            log_url: "https://app.kombo.dev/logs/x".into(),
            event_id: "e".into(),
            at: "t".into(),
            page: page.clone(),
        };
        let s = Strike::of_failure(&failure);
        assert!(
            !s.established,
            "a failed connection's is known once its rows are read"
        );
        assert!(
            s.organization.chars().count() <= NAME_CAP + 1,
            "{}",
            s.organization
        );
        assert!(s.customer.len() <= 64, "{}", s.customer);
        assert_eq!(member_key("42"), "42");
        assert_ne!(
            member_key(&"9".repeat(2_000)),
            member_key(&"9".repeat(1_999))
        );
    }

    #[test]
    fn a_refused_opening_is_ours_only_where_the_record_names_this_event() {
        assert_eq!(Opened::refused(Some("f3"), "f3"), Opened::Ours);
        assert_eq!(Opened::refused(Some("f4"), "f3"), Opened::Other);
        assert_eq!(Opened::refused(None, "f3"), Opened::Other);
    }
}
