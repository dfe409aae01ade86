//! PD's HTTP API, as far as the suite reads it: the leader (`/pd/api/v1/leader`, the seed's
//! way to find it), the members (`/pd/api/v1/members`), the stores (`/pd/api/v1/stores`,
//! whether every TiKV has joined and is `Up`), and the schedulers the nemesis adds and removes
//! (`/pd/api/v1/schedulers`, what `pd-ctl sched add|remove` sends).

use serde_json::Value as Json;

/// The port PD serves clients (and its HTTP API) on.
pub const CLIENT_PORT: u16 = 2379;
/// The port PD members talk to each other on.
pub const PEER_PORT: u16 = 2380;

/// One PD member as PD describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its `--name` (`pd3`).
    pub name: String,
    /// Its id.
    pub member_id: u64,
    /// Its client URLs.
    pub client_urls: Vec<String>,
}

/// One TiKV store as PD sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Store {
    /// Its id.
    pub id: u64,
    /// Its advertised address (`10.0.0.3:20160`).
    pub address: String,
    /// `Up`, `Disconnected`, `Down`, `Offline`, `Tombstone`.
    pub state: String,
}

fn parse(what: &str, body: &str) -> Result<Json, String> {
    serde_json::from_str(body).map_err(|e| {
        format!(
            "{what}: not JSON ({e}): {:?}",
            body.chars().take(200).collect::<String>()
        )
    })
}

fn member(what: &str, v: &Json) -> Result<Member, String> {
    let name = v
        .get("name")
        .and_then(Json::as_str)
        .ok_or_else(|| format!("{what}: no \"name\" in {v}"))?;
    let member_id = v
        .get("member_id")
        .and_then(Json::as_u64)
        .ok_or_else(|| format!("{what}: no numeric \"member_id\" in member {name}"))?;
    let client_urls = v
        .get("client_urls")
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|u| u.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok(Member {
        name: name.to_string(),
        member_id,
        client_urls,
    })
}

/// The leader in the answer to `GET /pd/api/v1/leader` (one member object).
pub fn parse_leader(body: &str) -> Result<Member, String> {
    member("/pd/api/v1/leader", &parse("/pd/api/v1/leader", body)?)
}

/// The members and the leader (when there is one) in the answer to `GET /pd/api/v1/members`.
pub fn parse_members(body: &str) -> Result<(Vec<Member>, Option<Member>), String> {
    let what = "/pd/api/v1/members";
    let v = parse(what, body)?;
    let members = v
        .get("members")
        .and_then(Json::as_array)
        .ok_or_else(|| format!("{what}: no \"members\" list"))?
        .iter()
        .map(|m| member(what, m))
        .collect::<Result<Vec<_>, _>>()?;
    let leader = match v.get("leader") {
        Some(l) if l.is_object() && l.get("name").is_some() => Some(member(what, l)?),
        _ => None,
    };
    Ok((members, leader))
}

/// The stores in the answer to `GET /pd/api/v1/stores`.
pub fn parse_stores(body: &str) -> Result<Vec<Store>, String> {
    let what = "/pd/api/v1/stores";
    let v = parse(what, body)?;
    let Some(list) = v.get("stores") else {
        // PD leaves the list out when no store has registered yet.
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| format!("{what}: \"stores\" is not a list"))?;
    list.iter()
        .map(|s| {
            let st = s
                .get("store")
                .ok_or_else(|| format!("{what}: an entry without \"store\": {s}"))?;
            Ok(Store {
                id: st
                    .get("id")
                    .and_then(Json::as_u64)
                    .ok_or_else(|| format!("{what}: a store without a numeric \"id\""))?,
                address: st
                    .get("address")
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_string(),
                state: st
                    .get("state_name")
                    .and_then(Json::as_str)
                    .unwrap_or("Up")
                    .to_string(),
            })
        })
        .collect()
}

/// Whether every one of `addresses` (`ADDR:20160`) is a store PD has and calls `Up`; if
/// not, which are missing or in another state.
pub fn stores_up(stores: &[Store], addresses: &[String]) -> Result<(), String> {
    let mut problems = Vec::new();
    for a in addresses {
        match stores.iter().find(|s| &s.address == a) {
            None => problems.push(format!("{a} has not joined")),
            Some(s) if s.state != "Up" => problems.push(format!("{a} is {}", s.state)),
            Some(_) => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join(", "))
    }
}

/// The body of `POST /pd/api/v1/schedulers` that adds scheduler `name`.
pub fn add_scheduler_body(name: &str) -> String {
    serde_json::json!({ "name": name }).to_string()
}

/// The PD name of the node at 1-based position `i` (the seed's `pd1`..`pdN`).
pub fn pd_name(i: usize) -> String {
    format!("pd{i}")
}

/// The node whose PD is called `name`, among `nodes` in order.
pub fn node_of(name: &str, nodes: &[String]) -> Option<String> {
    let i: usize = name.strip_prefix("pd")?.parse().ok()?;
    nodes.get(i.checked_sub(1)?).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Answers in the shape PD gives them: `/pd/api/v1/members` as a v4.0 PD printed it
    // (ids as PD writes them, u64), the leader as `pd-ctl member leader show` prints it
    // (the same member object), stores as PD v5 to v7 list them.
    const MEMBERS: &str = r#"{
      "header": {"cluster_id": 6909452787323084897},
      "members": [
        {"name": "pd2", "member_id": 986258930764209162,
         "peer_urls": ["http://10.9.0.2:2380"], "client_urls": ["http://10.9.0.2:2379"],
         "deploy_path": "/var/lib/rift/n2/tidb/0/bin", "binary_version": "v7.5.1",
         "git_hash": "7d16cc79e81bbf573124df3fd9351c26963f3e70"},
        {"name": "pd1", "member_id": 13155432540099656863,
         "peer_urls": ["http://10.9.0.1:2380"], "client_urls": ["http://10.9.0.1:2379"]},
        {"name": "pd3", "member_id": 6461985847067688046,
         "peer_urls": ["http://10.9.0.3:2380"], "client_urls": ["http://10.9.0.3:2379"]}
      ],
      "leader": {"name": "pd1", "member_id": 13155432540099656863,
        "peer_urls": ["http://10.9.0.1:2380"], "client_urls": ["http://10.9.0.1:2379"]},
      "etcd_leader": {"name": "pd1", "member_id": 13155432540099656863,
        "peer_urls": ["http://10.9.0.1:2380"], "client_urls": ["http://10.9.0.1:2379"]}
    }"#;

    const LEADER: &str = r#"{"name": "pd3", "member_id": 6461985847067688046,
      "peer_urls": ["http://10.9.0.3:2380"], "client_urls": ["http://10.9.0.3:2379"]}"#;

    const STORES: &str = r#"{
      "count": 3,
      "stores": [
        {"store": {"id": 1, "address": "10.9.0.1:20160", "version": "7.5.1",
                   "status_address": "10.9.0.1:20180", "start_timestamp": 1701388800,
                   "state_name": "Up"},
         "status": {"capacity": "40GiB", "available": "35GiB", "leader_count": 5,
                    "region_count": 12, "last_heartbeat_ts": "2026-12-07T14:00:00Z",
                    "uptime": "1m0s"}},
        {"store": {"id": 4, "address": "10.9.0.2:20160", "state_name": "Disconnected"},
         "status": {}},
        {"store": {"id": 5, "address": "10.9.0.3:20160", "state_name": "Up"}, "status": {}}
      ]
    }"#;

    #[test]
    fn members_and_leader_are_read_with_their_u64_ids() {
        let (members, leader) = parse_members(MEMBERS).unwrap();
        assert_eq!(
            members.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
            ["pd2", "pd1", "pd3"]
        );
        let leader = leader.unwrap();
        assert_eq!(leader.name, "pd1");
        assert_eq!(leader.member_id, 13155432540099656863);
        assert_eq!(leader.client_urls, ["http://10.9.0.1:2379"]);
        let l = parse_leader(LEADER).unwrap();
        assert_eq!((l.name.as_str(), l.member_id), ("pd3", 6461985847067688046));
        // No leader yet: PD leaves it out or empty.
        let (_, none) = parse_members(r#"{"members": [], "leader": {}}"#).unwrap();
        assert!(none.is_none());
    }

    #[test]
    fn stores_say_which_have_joined_and_are_up() {
        let stores = parse_stores(STORES).unwrap();
        assert_eq!(stores.len(), 3);
        assert_eq!(stores[1].state, "Disconnected");
        let want =
            |n: &[u8]| -> Vec<String> { n.iter().map(|i| format!("10.9.0.{i}:20160")).collect() };
        assert!(stores_up(&stores, &want(&[1, 3])).is_ok());
        assert_eq!(
            stores_up(&stores, &want(&[1, 2, 4])).unwrap_err(),
            "10.9.0.2:20160 is Disconnected, 10.9.0.4:20160 has not joined"
        );
        assert!(parse_stores(r#"{"count": 0}"#).unwrap().is_empty());
    }

    #[test]
    fn bad_answers_are_errors_naming_the_endpoint() {
        let e = parse_leader("<html>502 Bad Gateway</html>").unwrap_err();
        assert!(e.starts_with("/pd/api/v1/leader: not JSON"), "{e}");
        let e = parse_leader(r#"{"member_id": 1}"#).unwrap_err();
        assert!(e.contains("no \"name\""), "{e}");
        let e = parse_members(r#"{"header": {}}"#).unwrap_err();
        assert_eq!(e, "/pd/api/v1/members: no \"members\" list");
        let e = parse_stores(r#"{"stores": [{"status": {}}]}"#).unwrap_err();
        assert!(e.contains("an entry without \"store\""), "{e}");
    }

    #[test]
    fn pd_names_map_to_nodes_and_schedulers_to_bodies() {
        let nodes: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
        assert_eq!(pd_name(3), "pd3");
        assert_eq!(node_of("pd3", &nodes).as_deref(), Some("n3"));
        assert_eq!(node_of("pd0", &nodes), None);
        assert_eq!(node_of("pd9", &nodes), None);
        assert_eq!(node_of("tikv1", &nodes), None);
        assert_eq!(
            add_scheduler_body("shuffle-leader-scheduler"),
            r#"{"name":"shuffle-leader-scheduler"}"#
        );
    }
}
