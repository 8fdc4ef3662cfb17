package redisstore

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/redisstore/redistest"
	"github.com/penahbot/penah/internal/store/storetest"
)

// clusterSlots is the number of hash slots of Redis Cluster.
const clusterSlots = 16384

// crc16 is CRC-16/XMODEM, the checksum Redis Cluster hashes keys with.
func crc16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// slot is the Cluster slot of key: the CRC of its hash tag (the text between the first "{" and
// the next "}", when not empty), else of the whole key.
func slot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return int(crc16([]byte(key))) % clusterSlots
}

func TestSlotFunction(t *testing.T) {
	// Test vectors: the CRC's check value, and slots that redis-cli CLUSTER KEYSLOT gives.
	if got := crc16([]byte("123456789")); got != 0x31C3 {
		t.Fatalf("crc16 check value = %#x, want 0x31c3", got)
	}
	for key, want := range map[string]int{"foo": 12182, "bar": 5061, "{user1000}.following": 3443, "{user1000}.followers": 3443, "foo{}{bar}": 8363} {
		if got := slot(key); got != want {
			t.Errorf("slot(%q) = %d, want %d", key, got, want)
		}
	}
}

// TestLedgerKeysShareOneSlot: every key an atomic change may combine is in the ledger slot,
// whatever the ids in it.
func TestLedgerKeysShareOneSlot(t *testing.T) {
	k := newKeys(DefaultPrefix)
	chats := []intake.SessionKey{"a", "b}{c", "{x}", "zzz-blind-index-AAAA"}
	c := &intake.Case{Ref: "K7Q2-MX9D-4F8H-ZT3N", Team: "women", Priority: 1, Created: time.Now(), Deadline: time.Now()}
	var all []string
	for _, chat := range chats {
		all = append(all, k.session(chat), k.links(chat), k.inboxQueue(chat), k.inboxBodies(chat), k.outboxQueue(chat),
			k.tracked(chat), k.trackedOrder(chat))
	}
	all = append(all, k.seen(42), k.inboxChats(), k.offset(), k.outboxMessages(), k.outboxDue(),
		k.outboxHeads(), k.outboxSeq(), k.caseRecord(c.Ref), k.casesAll(), k.casesByTeam(c.Team),
		k.casesByTeam("{other}"), k.casesByStatus(intake.StatusQueued), k.queue(c.Team), k.queue("}"),
		k.overdue(), k.auditLog(), k.auditHead(), k.keyRecords(), k.clears(), k.clearsDue(),
		k.deadLetter("dl-id"), k.deadLetter("a}b{"), k.deadLetters(), k.deadLettersAge(), k.deadLetterSeq(),
		k.dirRecord("team:duhok"), k.dirRecord("x}{y}"), k.dirNames())
	want := slot(all[0])
	for _, key := range all {
		if !strings.HasPrefix(key, DefaultPrefix) {
			t.Errorf("key %q lacks the prefix", key)
		}
		if got := slot(key); got != want {
			t.Errorf("key %q is in slot %d, the ledger in %d", key, got, want)
		}
	}
	// Another prefix: the ledger keys still share a slot with each other.
	k2 := newKeys("other:")
	if slot(k2.session("a")) != slot(k2.auditHead()) {
		t.Error("with another prefix the ledger is split")
	}
}

func TestKeysOutsideTheLedger(t *testing.T) {
	k := newKeys(DefaultPrefix)
	// Leases and counters of different chats and keys spread over slots; a brace in an id cannot
	// end the tag early.
	if slot(k.lease("a")) == slot(k.lease("b")) && slot(k.lease("c")) == slot(k.lease("d")) {
		t.Error("leases of different chats all land in one slot")
	}
	if got := k.lease("a}b"); !strings.Contains(got, "{c:x617d62}") {
		t.Errorf("lease key of a chat with a brace = %q", got)
	}
	if got := k.rate("chat:{a}", time.Minute, 7); got != "penah:{r:x636861743a7b617d}:60000:7" {
		t.Errorf("rate key = %q", got)
	}
	if k.rate("k", time.Minute, 1) == k.rate("k", time.Hour, 1) {
		t.Error("windows of different lengths share a counter")
	}
}

func TestIndexMembersSortAsTimes(t *testing.T) {
	base := time.Date(2031, 3, 4, 5, 0, 0, 0, time.UTC)
	times := []time.Time{
		{}, time.Unix(0, 0), base, base.Add(time.Nanosecond), base.Add(time.Second - time.Nanosecond),
		base.Add(time.Second), base.Add(100 * 365 * 24 * time.Hour),
	}
	for i := 1; i < len(times); i++ {
		if a, b := encTime(times[i-1]), encTime(times[i]); a >= b {
			t.Errorf("encTime(%v) = %s does not sort before encTime(%v) = %s", times[i-1], a, times[i], b)
		}
	}
	mk := func(p int, created time.Time, ref intake.Ref) string {
		return queueMember(&intake.Case{Ref: ref, Priority: p, Created: created})
	}
	order := []string{
		mk(1, base, "B"), mk(1, base.Add(time.Nanosecond), "A"), mk(2, base.Add(-time.Hour), "A"),
		mk(0, base.Add(-2*time.Hour), "A"), mk(3, base.Add(-time.Hour), "A"), mk(12, base, "A"),
	}
	for i := 1; i < len(order); i++ {
		if order[i-1] >= order[i] {
			t.Errorf("queue member %q does not sort before %q", order[i-1], order[i])
		}
	}
	if r := refOfMember(mk(1, base, "K7Q2-MX9D")); r != "K7Q2-MX9D" {
		t.Errorf("refOfMember = %q", r)
	}
}

// slotChecker is a go-redis hook that records every script run whose keys span several slots.
type slotChecker struct {
	mu      sync.Mutex
	scripts int
	bad     []string
}

func (h *slotChecker) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *slotChecker) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *slotChecker) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := cmd.Args()
		name := strings.ToLower(cmd.Name())
		if (name == "evalsha" || name == "eval") && len(args) > 2 {
			n, _ := args[2].(int)
			keys := args[3 : 3+n]
			h.mu.Lock()
			h.scripts++
			for _, k := range keys[1:] {
				if slot(k.(string)) != slot(keys[0].(string)) {
					h.bad = append(h.bad, k.(string)+" with "+keys[0].(string))
				}
			}
			h.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}

// TestEveryScriptStaysInOneSlot runs the whole conformance suite while a hook checks that every
// script it runs declares keys of one Cluster slot only.
func TestEveryScriptStaysInOneSlot(t *testing.T) {
	url, _, _ := redistest.Start(t)
	h := &slotChecker{}
	n := 0
	storetest.Run(t, func(t *testing.T) intake.Store {
		n++
		s, err := Open(context.Background(), url, WithPrefix("penahslot:"+time.Now().Format("150405.000000000")+":"))
		if err != nil {
			t.Fatal(err)
		}
		s.rdb.AddHook(h)
		t.Cleanup(func() { s.Close() })
		return s
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.scripts < 100 {
		t.Fatalf("only %d script runs were seen: the hook did not see the suite", h.scripts)
	}
	if len(h.bad) > 0 {
		t.Fatalf("scripts touching several slots: %v", h.bad[:min(len(h.bad), 10)])
	}
}

// TestScriptsCompile loads every embedded script into a server: a syntax error in one fails
// here, by name.
func TestScriptsCompile(t *testing.T) {
	url, _, _ := redistest.Start(t)
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(o)
	defer c.Close()
	sc, err := loadScripts()
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.all) < 11 {
		t.Fatalf("only %d scripts", len(sc.all))
	}
	for name, s := range sc.all {
		if err := s.Load(context.Background(), c).Err(); err != nil {
			t.Errorf("script %s: %v", name, err)
		}
	}
	// Each file in scripts/ is used, and documents its KEYS, ARGV and returns.
	files, _ := scriptFiles.ReadDir("scripts")
	for _, f := range files {
		name := strings.TrimSuffix(f.Name(), ".lua")
		src, _ := scriptFiles.ReadFile("scripts/" + f.Name())
		if name == "lib" {
			continue
		}
		if sc.all[name] == nil {
			t.Errorf("scripts/%s is not loaded", f.Name())
		}
		for _, word := range []string{"KEYS", "ARGV", "Returns"} {
			if !strings.Contains(string(src), "-- "+word) && !strings.Contains(string(src), word+"[1]:") && !strings.Contains(string(src), word+":") {
				t.Errorf("scripts/%s does not document its %s", f.Name(), word)
			}
		}
	}
}

// TestEdgeMembers: the members of the edge's indexes decode again and sort by time, then id.
func TestEdgeMembers(t *testing.T) {
	base := time.Date(2031, 3, 4, 5, 0, 0, 0, time.UTC)
	for _, tm := range []time.Time{{}, base, base.Add(time.Nanosecond), time.Date(2262, 1, 1, 0, 0, 0, 999, time.UTC)} {
		got, err := decTime(encTime(tm))
		if err != nil || !got.Equal(tm) {
			t.Errorf("decTime(encTime(%v)) = %v, %v", tm, got, err)
		}
	}
	if _, err := decTime("12345"); err == nil {
		t.Error("decTime accepted a short text")
	}
	order := []intake.TrackedMessage{
		{ID: 5, At: base.Add(-time.Hour)}, {ID: -3, At: base}, {ID: 2, At: base}, {ID: 1 << 40, At: base},
		{ID: 1, At: base.Add(time.Nanosecond)},
	}
	for i, m := range order {
		member := trackedMember(m)
		if id := member[trackedIDAt-1:]; id != strconv.FormatInt(m.ID, 10) {
			t.Errorf("the id in member %q reads %q", member, id)
		}
		if i > 0 && trackedMember(order[i-1]) >= member {
			t.Errorf("tracked member %q does not sort before %q", trackedMember(order[i-1]), member)
		}
	}
	if id, err := deadID(deadMember(base, "a|b")); err != nil || id != "a|b" {
		t.Errorf("deadID = %q, %v", id, err)
	}
	if m := clearMember(base, "chat|x"); m[encTimeLen+len(memberSep):] != "chat|x" {
		t.Errorf("clear member %q", m)
	}
}
