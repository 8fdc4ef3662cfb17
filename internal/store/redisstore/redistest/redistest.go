// Package redistest gives tests a real Redis server: the one named by PENAH_TEST_REDIS, or a
// redis-server it starts on a free port in a temporary directory, configured as Penah
// recommends (AOF with fsync on every write, no eviction, no RDB snapshots).
package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvURL names a Redis server to use instead of starting one (e.g. redis://127.0.0.1:6379/0).
// Tests that flush it must own it.
const EnvURL = "PENAH_TEST_REDIS"

// Binary is the server program looked up in PATH; FallbackBinary is where Debian installs it.
const (
	Binary         = "redis-server"
	FallbackBinary = "/usr/bin/redis-server"
)

// Timeouts of the helper.
const (
	// ReadyTimeout bounds the wait for a started server to answer PING (after a restart it
	// replays its AOF first).
	ReadyTimeout = 15 * time.Second
	// StopTimeout bounds the wait for a killed server to exit.
	StopTimeout = 10 * time.Second
	// startAttempts bounds the tries at a free port (another process may take the one chosen).
	startAttempts = 5
)

// Server is a redis-server this package started.
type Server struct {
	tb    testing.TB
	bin   string
	dir   string
	port  int
	extra []string
	// sentinelOf is the master a sentinel watches (nil for a data server).
	sentinelOf *Server

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start returns the URL of a Redis server for t, a stop function and a restart function.
//
// With PENAH_TEST_REDIS set, that server is used and restart skips the test (the helper cannot
// restart a server it did not start). Otherwise Start runs redis-server on a free port of
// 127.0.0.1, in t.TempDir(), with --appendonly yes --appendfsync always --maxmemory-policy
// noeviction --save "", and waits until it answers PING. stop ends it (it is also stopped at the
// end of the test); restart kills it with SIGKILL (if it runs) and starts it again on the same
// port and directory, so it replays its AOF, and waits for PING.
//
// When no redis-server binary exists the test is skipped, except under CI=true, where that is
// a failure: CI must run the Redis tests.
func Start(t testing.TB) (url string, stop func(), restart func()) {
	t.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return u, func() {}, func() {
			t.Helper()
			t.Skipf("%s is set: cannot restart a server this helper did not start", EnvURL)
		}
	}
	s := StartServer(t)
	return s.URL(), s.Stop, s.Restart
}

// StartServer starts a redis-server as Start does, whatever PENAH_TEST_REDIS says: for tests
// that need the server's process or files (kill -9, the AOF's contents). extra are further
// command-line settings, e.g. "--rename-command", "CONFIG", "".
func StartServer(t testing.TB, extra ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath(Binary)
	if err != nil {
		if _, statErr := os.Stat(FallbackBinary); statErr == nil {
			bin = FallbackBinary
		}
	}
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redistest: no %s in PATH or at %s, and CI=true: install it (Debian package redis-server) or set %s", Binary, FallbackBinary, EnvURL)
		}
		t.Skipf("redistest: no %s in PATH or at %s; set %s or install redis-server", Binary, FallbackBinary, EnvURL)
	}
	s := &Server{tb: t, bin: bin, dir: t.TempDir(), extra: extra}
	var lastErr error
	for range startAttempts {
		s.port, lastErr = freePort()
		if lastErr != nil {
			continue
		}
		if lastErr = s.start(); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("redistest: starting %s: %v", bin, lastErr)
	}
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's address as a redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr() }

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Dir is the server's working directory (its AOF is in appendonlydir/).
func (s *Server) Dir() string { return s.dir }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	args := []string{
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--dir", s.dir,
		"--appendonly", "yes", "--appendfsync", "always", "--maxmemory-policy", "noeviction",
		"--save", "", "--daemonize", "no", "--logfile", filepath.Join(s.dir, "redis.log"),
	}
	if m := s.sentinelOf; m != nil {
		// A sentinel rewrites its configuration file, so it needs one of its own.
		conf := filepath.Join(s.dir, "sentinel.conf")
		text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\nsentinel monitor %s 127.0.0.1 %d 1\nsentinel down-after-milliseconds %s 1000\n",
			s.port, s.dir, filepath.Join(s.dir, "redis.log"), SentinelMaster, m.port, SentinelMaster)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			return err
		}
		args = []string{conf, "--sentinel"}
	}
	cmd := exec.Command(s.bin, append(args, s.extra...)...)
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	if err := waitPing(s.Addr(), done); err != nil {
		cmd.Process.Kill()
		<-done
		s.cmd = nil
		return fmt.Errorf("%w (log: %s)", err, s.logTail())
	}
	return nil
}

// StartCluster starts a redis-server as a Redis Cluster of one master holding all 16384 slots,
// and waits until the cluster is up: a real Cluster, so that a command or script whose keys span
// slots fails with CROSSSLOT as it would on many nodes. Its URL takes the redis-cluster://
// scheme.
func StartCluster(t testing.TB) *Server {
	t.Helper()
	s := StartServer(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	if _, err := s.Command("CLUSTER", "ADDSLOTSRANGE", "0", "16383"); err != nil {
		t.Fatalf("redistest: assigning the cluster's slots: %v", err)
	}
	deadline := time.Now().Add(ReadyTimeout)
	for {
		info, err := s.Command("CLUSTER", "INFO")
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: the one-node cluster did not come up: %q %v", info, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// SentinelMaster is the master name StartSentinel monitors.
const SentinelMaster = "penahtest"

// StartSentinel starts a Redis Sentinel watching master (quorum 1) on a free port, and waits
// until it knows the master. Its URL is redis-sentinel://127.0.0.1:port/penahtest.
func StartSentinel(t testing.TB, master *Server) *Server {
	t.Helper()
	s := &Server{tb: t, bin: master.bin, dir: t.TempDir(), sentinelOf: master}
	var err error
	for range startAttempts {
		if s.port, err = freePort(); err != nil {
			continue
		}
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("redistest: starting a sentinel: %v", err)
	}
	t.Cleanup(s.Stop)
	deadline := time.Now().Add(ReadyTimeout)
	for {
		addr, err := s.Command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SentinelMaster)
		if err == nil && addr != "" {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: the sentinel does not know its master: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// SentinelURL is the redis-sentinel:// URL of a sentinel started by StartSentinel.
func (s *Server) SentinelURL() string { return "redis-sentinel://" + s.Addr() + "/" + SentinelMaster }

// ClusterURL is the server's address as a redis-cluster:// URL.
func (s *Server) ClusterURL() string { return "redis-cluster://" + s.Addr() }

// Command sends one command to the server and returns its reply as text (see readReply).
func (s *Server) Command(args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return "", err
	}
	return readReply(bufio.NewReader(conn))
}

// readReply reads one reply: a status, an integer or a bulk string as text, an array as its
// elements' texts joined by spaces (an empty array or a null is ""), an error reply as an error.
func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("%s", line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		parts := make([]string, n)
		for i := range parts {
			if parts[i], err = readReply(r); err != nil {
				return "", err
			}
		}
		return strings.Join(parts, " "), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}

// waitPing waits until the server answers PING with PONG (not LOADING), or exits.
func waitPing(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(ReadyTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited before answering on %s", addr)
		default:
		}
		if conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			conn.SetDeadline(time.Now().Add(time.Second))
			_, err = conn.Write([]byte("PING\r\n"))
			var line string
			if err == nil {
				line, err = bufio.NewReader(conn).ReadString('\n')
			}
			conn.Close()
			if err == nil && strings.HasPrefix(line, "+PONG") {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("redis-server on %s did not answer PING within %v", addr, ReadyTimeout)
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// kill sends SIGKILL to the server if it runs and waits for it to exit.
func (s *Server) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	select {
	case <-s.done:
	case <-time.After(StopTimeout):
		s.tb.Errorf("redistest: redis-server pid %d did not exit after SIGKILL", s.cmd.Process.Pid)
	}
	s.cmd = nil
}

// Pause stops the server's process (SIGSTOP): it keeps its connections but answers nothing, as
// a hung or partitioned server would. Resume continues it (SIGCONT).
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a paused server.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.tb.Fatalf("redistest: the server is not running")
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.tb.Fatalf("redistest: signal %v: %v", sig, err)
	}
}

// Stop kills the server (SIGKILL: with appendfsync always nothing acknowledged is lost).
func (s *Server) Stop() { s.kill() }

// Restart kills the server with SIGKILL, if it runs, and starts it again on the same port and
// directory; it returns when the server has replayed its AOF and answers PING.
func (s *Server) Restart() {
	s.tb.Helper()
	s.kill()
	var err error
	for range startAttempts {
		// The port can stay busy for a moment after the kill.
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.tb.Fatalf("redistest: restarting redis-server: %v", err)
}
