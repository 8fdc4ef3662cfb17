// Package redisstore is Penah's Redis engine of the storage contract (intake.Store), for several
// bot replicas and for Redis' high availability. It runs on redis.UniversalClient: one server,
// a Sentinel-managed master, or a Redis Cluster (see Open for the URLs).
//
// # Settings Redis must have
//
// Open refuses a server whose maxmemory-policy is not noeviction: under any other policy Redis
// deletes keys when memory runs out, and a deleted key here is a lost report. AOF with
// appendfsync always is recommended (Check reports it): Penah acknowledges an update to Telegram
// as soon as PutUpdate returns, and only appendfsync always makes what Redis acknowledged
// survive a crash of the server or the machine. With appendfsync everysec up to a second of
// acknowledged writes can be lost.
//
// # Keys
//
// Every key comes from a builder in keys.go: <prefix>{<tag>}:<kind>[:<id>]. The prefix (default
// "penah:") lets deployments share a server; the hash tag decides the Cluster slot.
//
// The contract makes one turn (intake.Commit) a single atomic change across records of several
// entities: the person's session (CAS on its version), the inbox update it consumed, a new case,
// that case's team queue and the global case indexes, outbox messages for the person's chat and
// for officers' chats, and entries of the one global audit chain; /forget adds every case the
// person ever created. Claims, updates and shredding likewise combine a case, its queue and the
// audit chain. Redis is atomic only within one script (or MULTI) on one node, and in a Cluster
// only within one slot. The choices were:
//
//  1. One hash tag per chat and per team, with Commit split into steps across slots and an
//     intent record rolled forward after a crash (a two-phase commit). Between the steps another
//     reader sees part of a turn (a case without its queue entry, a reply for a case not yet
//     created), which the contract forbids ("all of it or none of it"), and every reader of
//     every record would have to take part in recovery.
//  2. One hash tag, {l} (the ledger), for every record that any atomic change combines: sessions,
//     inbox, outbox, cases and their indexes, queues, the audit chain, key records, directory
//     records (teams, officers, invites) with their index. Every change
//     is then one Lua script on one node, in one slot, exactly as on a single server.
//
// This package takes 2. Its cost: in a Cluster all of Penah's ledger lives in one slot, hence on
// one master (and its replicas), so a Cluster gives failover but not more write capacity. That is
// a good trade here: Penah's load is people writing to a bot, far below what one master carries.
// BenchmarkTurn (store the update, load the session, commit the turn with one reply) runs about
// 2,500-3,000 turns a second with 16 callers on a 2-core machine that hosts both the bot and
// Redis with every write fsynced, where redis-benchmark's plain SET reaches 17,000 a second:
// fsync and the machine, not the slot, are the limit. Sentinel gives the same failover with fewer moving parts and is the
// recommended topology; Cluster works (its tests run against a real one-node cluster, where a
// script whose keys spanned slots would fail with CROSSSLOT) for operators who already run one.
// Keys that no atomic change combines with others get their own tags and spread over the
// cluster: a chat's lease ({c:<chat>}) and each rate-limit counter ({r:<key>}).
//
// Should Penah ever outgrow one master, the way out is the transactional-outbox pattern, not a
// two-phase commit: Commit would write the session, the inbox update and a "case intent" in the
// chat's slot atomically, and a relay would create the case in its team's slot idempotently
// (keyed by its reference). The contract would then promise "never lost, never doubled, visible
// within moments" instead of "all of it or none of it" for the case part.
//
// # Atomicity
//
// Every multi-key change is one embedded Lua script (scripts/*.lua, each with a header listing
// KEYS, ARGV and returns), run with EVALSHA and falling back to EVAL when the server lost its
// script cache. Every key a script touches is declared in KEYS: scripts/apply.lua, which carries
// all ledger changes, receives a JSON plan that names keys and binary values by position. Each
// script checks every condition before its first write, because Redis does not roll back a
// script that fails half-way.
//
// Redis' Lua has SHA-1 but not SHA-256, and the audit chain's hash is SHA-256
// (intake.AuditEntry.ChainHash). So a writer that appends audit entries links and hashes them in
// Go after the chain's head {seq, hash}, and the script applies the whole change only if the head
// is still at that seq (compare-and-set); otherwise it writes nothing and the writer reads the
// head again, with a small random pause (at most MaxStaleRetries rounds, then ErrUnavailable).
// Within one process, audit appends take turns and the head is remembered between them, so they
// cost one round trip and never race each other; only writers in other replicas can make a
// round fail.
// Changes of a case work the same way on the case's version: Go computes the new case (the
// contract's UpdateCase takes a Go function), the script writes it only if the version is still
// the one read, and moves it between indexes. Claim, Release and Escalate add a guard the script
// checks at the moment it runs: the case is still unclaimed (a loser learns the winner's name),
// still held by the releasing officer, or below the escalation level (set-if-greater).
//
// Lifetimes run on the server's clock: session idle expiry (PEXPIRE), inbox dedupe markers (SET
// PX, intake.InboxDedupTTL), leases (SET PX, renewed with PEXPIRE), rate-limit windows (INCR,
// then PEXPIRE), a chat's tracked message ids (PEXPIRE, intake.TrackedTTL, renewed by each
// TrackMessages), dead letters (PEXPIRE, intake.DeadLetterTTL; the indexes that list them are
// pruned by later PutDeadLetter calls, and readers skip what expired). Times the contract passes in (outbox due times, case deadlines, rate windows'
// numbering) are the caller's.
//
// # Failures
//
// Timeouts are short (DefaultDialTimeout, DefaultReadTimeout, ...) and go-redis neither retries
// commands nor dials more than once per operation: a script whose reply was lost must not run
// twice. Connection errors, timeouts and the server's LOADING, READONLY, MASTERDOWN, CLUSTERDOWN,
// TRYAGAIN, BUSY, NOREPLICAS, OOM and MISCONF replies are wrapped with intake.ErrUnavailable, so
// the Telegram edge does not acknowledge what it could not store. go-redis reconnects by itself
// when the server is back; a Store never has to be reopened.
//
// # Shredding
//
// Redis keeps deleted data in its persistence files: the AOF holds every write ever made until it
// is rewritten, an RDB snapshot the data of its time. After Shred and after a Commit that
// forgets, the store rewrites the ledger master's AOF (BGREWRITEAOF) and, when snapshots are on,
// saves a new RDB (BGSAVE), each started after the deletion, and waits for them; Redis 7 then
// deletes the old AOF files. Replicas rewrite their own files on their own schedule, and backups
// are out of reach: crypto-shredding (the case's data key is wrapped only in the deleted
// envelope) is what makes those copies unreadable. WithoutFileScrub turns the rewrite off for
// services that forbid it.
package redisstore
