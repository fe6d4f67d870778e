//! Command dispatch by name, as mongod's command registry does, plus the shared argument
//! and reply helpers.
//!
//! Command names are case-sensitive as in mongod (`isMaster` and `ismaster` are both
//! registered as aliases of `hello`). An unknown name is `CommandNotFound` (59). Commands
//! are plain functions over the shared [`Server`]; the connection layer handles fail
//! points, faults, awaitable hello and the wire.

mod admin;
mod aggregate;
mod args;
mod crud;
mod cursor;
mod handshake;
mod namespace;

use bson::Document;

use crate::error::{code, CommandError};
use crate::server::Server;

pub(crate) use admin::sleep_millis;
pub(crate) use handshake::{await_time, record_metadata};

/// What the command layer knows about the connection a command came on.
#[derive(Clone, Debug, Default)]
pub(crate) struct Client {
    /// mongod's `connectionId` (distinct per connection).
    pub(crate) id: i64,
    /// `client.application.name` from the handshake.
    pub(crate) app_name: Option<String>,
    /// Whether the handshake metadata was received (it may be sent once).
    pub(crate) metadata_seen: bool,
    /// The peer's address, for `whatsmyuri` and logs.
    pub(crate) peer: String,
}

/// The commands the mock implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Hello,
    Ping,
    BuildInfo,
    ServerStatus,
    EndSessions,
    KillAllSessions,
    ConnectionStatus,
    WhatsMyUri,
    Sleep,
    ConfigureFailPoint,
    PoolcheckFault,
    Insert,
    Find,
    GetMore,
    KillCursors,
    Update,
    Delete,
    Count,
    Aggregate,
    ListCollections,
    ListDatabases,
    ListIndexes,
    Create,
    Drop,
    DropDatabase,
}

impl Kind {
    /// Looks up a command by the name it was sent with.
    pub(crate) fn from_name(name: &str) -> Option<Kind> {
        let kind = match name {
            "hello" | "isMaster" | "ismaster" => Kind::Hello,
            "ping" => Kind::Ping,
            "buildInfo" | "buildinfo" => Kind::BuildInfo,
            "serverStatus" => Kind::ServerStatus,
            "endSessions" => Kind::EndSessions,
            "killAllSessions" => Kind::KillAllSessions,
            "connectionStatus" => Kind::ConnectionStatus,
            "whatsmyuri" => Kind::WhatsMyUri,
            "sleep" => Kind::Sleep,
            "configureFailPoint" => Kind::ConfigureFailPoint,
            "poolcheckFault" => Kind::PoolcheckFault,
            "insert" => Kind::Insert,
            "find" => Kind::Find,
            "getMore" => Kind::GetMore,
            "killCursors" => Kind::KillCursors,
            "update" => Kind::Update,
            "delete" => Kind::Delete,
            "count" => Kind::Count,
            "aggregate" => Kind::Aggregate,
            "listCollections" => Kind::ListCollections,
            "listDatabases" => Kind::ListDatabases,
            "listIndexes" => Kind::ListIndexes,
            "create" => Kind::Create,
            "drop" => Kind::Drop,
            "dropDatabase" => Kind::DropDatabase,
            _ => return None,
        };
        Some(kind)
    }

    /// The canonical name and the aliases, which a `failCommands` entry may name.
    pub(crate) fn names(self) -> &'static [&'static str] {
        match self {
            Kind::Hello => &["hello", "isMaster", "ismaster"],
            Kind::Ping => &["ping"],
            Kind::BuildInfo => &["buildInfo", "buildinfo"],
            Kind::ServerStatus => &["serverStatus"],
            Kind::EndSessions => &["endSessions"],
            Kind::KillAllSessions => &["killAllSessions"],
            Kind::ConnectionStatus => &["connectionStatus"],
            Kind::WhatsMyUri => &["whatsmyuri"],
            Kind::Sleep => &["sleep"],
            Kind::ConfigureFailPoint => &["configureFailPoint"],
            Kind::PoolcheckFault => &["poolcheckFault"],
            Kind::Insert => &["insert"],
            Kind::Find => &["find"],
            Kind::GetMore => &["getMore"],
            Kind::KillCursors => &["killCursors"],
            Kind::Update => &["update"],
            Kind::Delete => &["delete"],
            Kind::Count => &["count"],
            Kind::Aggregate => &["aggregate"],
            Kind::ListCollections => &["listCollections"],
            Kind::ListDatabases => &["listDatabases"],
            Kind::ListIndexes => &["listIndexes"],
            Kind::Create => &["create"],
            Kind::Drop => &["drop"],
            Kind::DropDatabase => &["dropDatabase"],
        }
    }

    /// Whether the command accepts a write concern (and so can get a fail point's
    /// `writeConcernError`).
    pub(crate) fn is_write(self) -> bool {
        matches!(
            self,
            Kind::Insert
                | Kind::Update
                | Kind::Delete
                | Kind::Create
                | Kind::Drop
                | Kind::DropDatabase
        )
    }

    /// The control commands a harness uses to steer the mock. They are exempt from
    /// connection-level faults so a fault can always be undone.
    pub(crate) fn is_control(self) -> bool {
        matches!(self, Kind::ConfigureFailPoint | Kind::PoolcheckFault)
    }

    fn admin_only(self) -> bool {
        matches!(
            self,
            Kind::ConfigureFailPoint | Kind::PoolcheckFault | Kind::ListDatabases | Kind::Sleep
        )
    }
}

/// The namespace a command acts on, for the fail point's `namespace` filter: `db.coll`
/// when the command's value names a collection, otherwise `db`.
pub(crate) fn namespace_of(body: &Document, db: &str) -> String {
    match body.iter().next() {
        Some((_, bson::Bson::String(coll))) => format!("{db}.{coll}"),
        _ => db.to_string(),
    }
}

/// Runs one command and returns its reply (`ok: 1`) or its error.
///
/// # Errors
/// The command's own error, `CommandNotFound` (59) for an unknown name, `Unauthorized`
/// (13) for an admin-only command on another database.
pub(crate) fn run(
    server: &Server,
    client: &Client,
    name: &str,
    db: &str,
    body: &Document,
) -> Result<Document, CommandError> {
    let Some(kind) = Kind::from_name(name) else {
        return Err(CommandError::new(
            code::COMMAND_NOT_FOUND,
            format!("no such command: '{name}'"),
        ));
    };
    if kind.admin_only() && db != "admin" {
        return Err(CommandError::new(
            code::UNAUTHORIZED,
            format!("{name} may only be run against the admin database."),
        ));
    }
    let mut reply = match kind {
        Kind::Hello => handshake::hello(server, client, name, body),
        Kind::Ping | Kind::EndSessions | Kind::KillAllSessions => Ok(Document::new()),
        Kind::BuildInfo => Ok(admin::build_info()),
        Kind::ServerStatus => Ok(admin::server_status(server)),
        Kind::ConnectionStatus => Ok(admin::connection_status()),
        Kind::WhatsMyUri => Ok(bson::doc! {"you": client.peer.as_str()}),
        // The wait itself is the connection layer's (`sleep_millis`); here it is checked.
        Kind::Sleep => admin::sleep_millis(body).map(|_| Document::new()),
        Kind::ConfigureFailPoint => return server.configure_fail_point(body),
        Kind::PoolcheckFault => admin::poolcheck_fault(server, body),
        Kind::Insert => crud::insert(server, db, body),
        Kind::Find => crud::find(server, db, body),
        Kind::Update => crud::update(server, db, body),
        Kind::Delete => crud::delete(server, db, body),
        Kind::Count => crud::count(server, db, body),
        Kind::GetMore => cursor::get_more(server, db, body),
        Kind::KillCursors => cursor::kill_cursors(server, db, body),
        Kind::Aggregate => aggregate::aggregate(server, db, body),
        Kind::ListCollections => namespace::list_collections(server, db, body),
        Kind::ListDatabases => namespace::list_databases(server, body),
        Kind::ListIndexes => namespace::list_indexes(server, db, body),
        Kind::Create => namespace::create(server, db, body),
        Kind::Drop => namespace::drop(server, db, body),
        Kind::DropDatabase => namespace::drop_database(server, db),
    }?;
    reply.insert("ok", 1.0);
    Ok(reply)
}

#[cfg(test)]
mod tests;
