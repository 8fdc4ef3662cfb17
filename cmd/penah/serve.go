package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/penahbot/penah/bot"
	"github.com/penahbot/penah/crypto/seal"
	"github.com/penahbot/penah/internal/directory"
	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/boltstore"
	"github.com/penahbot/penah/internal/vault"
	"github.com/penahbot/penah/locales"
)

// Defaults of `penah serve`.
const (
	defaultTelegramAPI = "https://api.telegram.org"
	defaultListen      = ":8443"
	// defaultShutdown bounds the outbox flush at shutdown.
	defaultShutdown = 10 * time.Second
	// startupTimeout bounds each check made at start (getMe, setWebhook, the store).
	startupTimeout = 15 * time.Second
	// Blind-index domains and sealing contexts of the edge. Changing them orphans stored data.
	chatDomain = "tg-chat"
)

var webhookSecretRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// serveConfig is `penah serve`'s configuration, from flags and PENAH_* variables (flags win).
type serveConfig struct {
	data, store, token, api        string
	routingFile                    string
	webhook, secret, listen        string
	dev                            bool
	rate                           float64
	pacing, autoClear, shutdown    time.Duration
	idleReminder                   time.Duration
	workers, floodLimit            int
	sendWorkers                    int
	logLevel                       slog.Level
	pollTimeout                    time.Duration
	retryInitial                   time.Duration
	ready                          func(addr string)               // tests: called once serving, with the webhook's address
	telegramNow                    func() time.Time                // tests: Telegram's clock, for its 48 h delete window
	wrapStore                      func(intake.Store) intake.Store // tests: fault injection around the edge's store
	roster                         bot.Roster                      // tests: the officer directory (nil: internal/directory)
	slaEvery                       time.Duration                   // how often SLAs are checked (0: bot.SLAEvery)
	now                            func() time.Time                // tests: the clock of turns, cases and SLAs (nil: time.Now)
	route                          intake.Router                   // tests: routing (nil: the default)
	getenv                         env
	stderr                         io.Writer
	listener                       net.Listener
	commandsDisabled, quietStartup bool
}

func parseServe(args []string, getenv env, stderr io.Writer) (*serveConfig, error) {
	fl := flag.NewFlagSet("penah serve", flag.ContinueOnError)
	fl.SetOutput(stderr)
	c := &serveConfig{getenv: getenv, stderr: stderr}
	envOr := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fl.StringVar(&c.data, "data", "", "data directory (env PENAH_DATA, default ./penah-data)")
	fl.StringVar(&c.store, "store", getenv("PENAH_STORE"), "storage engine: bolt:///path/penah.db (default DATA/penah.db) or a redis:// address (env PENAH_STORE)")
	fl.StringVar(&c.token, "telegram-token", getenv("PENAH_TELEGRAM_TOKEN"), "bot token from @BotFather (env PENAH_TELEGRAM_TOKEN)")
	fl.StringVar(&c.api, "telegram-api", envOr("PENAH_TELEGRAM_API", defaultTelegramAPI), "Bot API server (env PENAH_TELEGRAM_API): a local Bot API server or a test fake")
	fl.StringVar(&c.webhook, "webhook", getenv("PENAH_WEBHOOK_URL"), "public HTTPS URL Telegram posts updates to (env PENAH_WEBHOOK_URL); without it Penah long-polls")
	fl.StringVar(&c.secret, "webhook-secret", getenv("PENAH_WEBHOOK_SECRET"), "secret token Telegram sends with each update, 32-256 of A-Z a-z 0-9 _ - (env PENAH_WEBHOOK_SECRET)")
	fl.StringVar(&c.listen, "listen", envOr("PENAH_LISTEN", defaultListen), "address the webhook listens on (env PENAH_LISTEN)")
	fl.StringVar(&c.routingFile, "routing", "", "routing rules file (env PENAH_ROUTING; default: the shipped rules, see `penah routing check`)")
	fl.BoolVar(&c.dev, "dev", false, "create development keys when there is no master key (never for real cases)")
	fl.Float64Var(&c.rate, "rate", bot.SendRate, "global limit of Bot API sends per second")
	fl.DurationVar(&c.pacing, "pacing", bot.ChatPacing, "least time between two messages to one chat (0 means the default; use 1ns for none)")
	fl.IntVar(&c.workers, "workers", bot.DispatchWorkers, "chats worked on at once")
	fl.IntVar(&c.sendWorkers, "send-workers", bot.SendWorkers, "Bot API requests in flight at once (the rate limit applies on top)")
	fl.IntVar(&c.floodLimit, "flood-limit", bot.FloodLimit, "updates one person may send per minute before one notice and silence (-1: off)")
	fl.DurationVar(&c.autoClear, "auto-clear", 0, "clear a finished conversation's messages this long after it ended (0: off; env PENAH_AUTO_CLEAR)")
	fl.DurationVar(&c.idleReminder, "idle-reminder", bot.IdleAfter, "remind an officer of a claimed case left without an action this long")
	fl.DurationVar(&c.shutdown, "shutdown-timeout", defaultShutdown, "how long to keep sending the outbox at shutdown")
	fl.DurationVar(&c.pollTimeout, "poll-timeout", bot.PollTimeout, "getUpdates long-poll timeout")
	level := fl.String("log-level", envOr("PENAH_LOG_LEVEL", "info"), "debug, info, warn or error (env PENAH_LOG_LEVEL)")
	if err := fl.Parse(args); err != nil {
		return nil, errUsage
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "penah serve: unexpected argument %q\n", fl.Arg(0))
		return nil, errUsage
	}
	if v := getenv("PENAH_AUTO_CLEAR"); v != "" && c.autoClear == 0 {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("PENAH_AUTO_CLEAR=%q is not a duration such as 30m", v)
		}
		c.autoClear = d
	}
	if err := c.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return nil, fmt.Errorf("unknown --log-level %q", *level)
	}
	return c, c.validate()
}

func (c *serveConfig) validate() error {
	switch {
	case c.token == "":
		return errors.New("no bot token: give --telegram-token or set PENAH_TELEGRAM_TOKEN")
	case strings.ContainsAny(c.token, "/?# \t\n"):
		return errors.New("the bot token is malformed (it looks like 123456:ABC-DEF…)")
	case c.rate <= 0 || c.pacing < 0 || c.workers <= 0 || c.sendWorkers <= 0 || c.shutdown < 0 || c.autoClear < 0 || c.idleReminder < 0:
		return errors.New("--rate and --workers must be positive; durations may not be negative")
	}
	if u, err := url.Parse(c.api); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("--telegram-api %q is not an http(s) URL", c.api)
	}
	if c.webhook == "" {
		return nil
	}
	if u, err := url.Parse(c.webhook); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("--webhook %q is not an http(s) URL", c.webhook)
	}
	if len(c.secret) < bot.MinWebhookSecret || len(c.secret) > bot.MaxWebhookSecret || !webhookSecretRE.MatchString(c.secret) {
		return fmt.Errorf("--webhook needs --webhook-secret of %d to %d characters of A-Z, a-z, 0-9, _ and - (try: openssl rand -hex 32)", bot.MinWebhookSecret, bot.MaxWebhookSecret)
	}
	return nil
}

func runServe(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	c, err := parseServe(args, getenv, stderr)
	if err != nil {
		return err
	}
	return serve(ctx, c)
}

// serve runs the Telegram edge until ctx is done, then shuts down in order: stop taking updates,
// finish the turns in flight, send the outbox for at most the shutdown timeout.
func serve(ctx context.Context, c *serveConfig) error {
	log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: c.logLevel}))
	data := dataDir(c.getenv, c.data)
	svc, err := openServiceWith(ctx, data, c.store, c.getenv, c.dev, c.stderr, log, serviceOptions{now: c.now, route: c.route, routingFile: c.routingFile})
	if errors.Is(err, vault.ErrNoMasterKey) {
		return fmt.Errorf("%w (or give --dev for throw-away development keys)", err)
	} else if err != nil {
		return err
	}
	defer svc.Close()
	sctx, cancel := context.WithTimeout(ctx, startupTimeout)
	defer cancel()
	if _, err := svc.store.Offset(sctx); err != nil {
		return fmt.Errorf("the store does not answer: %w", err)
	}
	if err := checkTelegram(sctx, c); err != nil {
		return err
	}
	if err := setCommands(sctx, c, svc.cat); err != nil {
		// The menu is a convenience: typed commands work without it.
		log.Warn("setting the command menu failed", "err", err)
	}
	store := svc.store
	if c.wrapStore != nil {
		store = c.wrapStore(store)
	}
	roster := c.roster
	if roster == nil {
		now := c.now
		if now == nil {
			now = time.Now
		}
		roster = newDirRoster(directory.New(store, svc.vault), now)
	}

	kr := svc.vault.Keyring()
	sealUpdate := func(id int64, raw []byte) ([]byte, error) {
		return kr.SealSecret(seal.PurposeSession, "update:"+strconv.FormatInt(id, 10), raw)
	}
	openUpdate := func(id int64, sealed []byte) ([]byte, error) {
		return kr.OpenSecret(seal.PurposeSession, "update:"+strconv.FormatInt(id, 10), sealed)
	}
	sealOut := func(id intake.OutboxID, plain []byte) ([]byte, error) {
		return kr.SealSecret(seal.PurposeSession, "outbox:"+string(id), plain)
	}
	openOut := func(id intake.OutboxID, sealed []byte) ([]byte, error) {
		return kr.OpenSecret(seal.PurposeSession, "outbox:"+string(id), sealed)
	}
	chatKey := func(chat int64) intake.SessionKey {
		return intake.SessionKey(svc.vault.Index(chatDomain, strconv.FormatInt(chat, 10)))
	}
	deadLetter := bot.NewDeadLetterFunc(store, func(id string, raw []byte) ([]byte, error) {
		return kr.SealSecret(seal.PurposeSession, "dead:"+id, raw)
	}, nil)
	owner, err := leaseOwner(store)
	if err != nil {
		return err
	}

	sender := &bot.Sender{
		APIURL: c.api, Token: c.token, Store: store, Open: openOut, Tracker: store,
		Rate: c.rate, Pacing: c.pacing, Workers: c.sendWorkers, RetryInitial: c.retryInitial, Logger: log, TelegramNow: c.telegramNow,
		Leases: store, Owner: owner,
		Blocked: func(chat intake.SessionKey) { log.Info("person blocked the bot", "chat", string(chat)) },
	}
	disp := &bot.Dispatcher{
		Store: store, Service: svc.svc, Catalog: svc.cat, Open: openUpdate, SealOut: sealOut, OpenOut: openOut,
		Owner: owner, Wake: sender.Wake, Workers: c.workers, FloodLimit: c.floodLimit,
		AutoClear: c.autoClear, Logger: log, Now: c.now,
		Roster: roster, Library: svc.lib, ChatKey: chatKey,
		SealDir: func(name string, plain []byte) ([]byte, error) {
			return kr.SealSecret(seal.PurposeDirectory, "edge:"+name, plain)
		},
		OpenDir: func(name string, sealed []byte) ([]byte, error) {
			return kr.OpenSecret(seal.PurposeDirectory, "edge:"+name, sealed)
		},
	}
	sender.Blocked = func(chat intake.SessionKey) {
		log.Info("person blocked the bot", "chat", string(chat))
		if disp.Roster != nil {
			disp.PersonBlocked(context.WithoutCancel(ctx), chat)
		}
	}

	intakeCtx, stopIntake := context.WithCancel(ctx)
	defer stopIntake()
	dispatchCtx, stopDispatch := context.WithCancel(context.WithoutCancel(ctx))
	defer stopDispatch()
	sendCtx, stopSend := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSend()

	errs := make(chan error, 4)
	var wg sync.WaitGroup
	goRun := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	var dispatchDone, sendDone = make(chan struct{}), make(chan struct{})
	goRun("dispatcher", func() error { defer close(dispatchDone); return disp.Run(dispatchCtx) })
	goRun("sender", func() error { defer close(sendDone); return sender.Run(sendCtx) })
	if disp.Roster != nil {
		sched := &bot.Scheduler{D: disp, Every: c.slaEvery, IdleAfter: c.idleReminder, Owner: owner, Logger: log}
		goRun("scheduler", func() error { return sched.Run(dispatchCtx) })
	}

	// abort stops everything started so far, when the start fails half way.
	abort := func(err error) error {
		stopIntake()
		stopDispatch()
		stopSend()
		wg.Wait()
		return err
	}
	intakeDone := make(chan struct{})
	if c.webhook != "" {
		hook := &bot.Webhook{Secret: c.secret, Store: store, Seal: sealUpdate, ChatKey: chatKey, DeadLetter: deadLetter, Stored: disp.Notify, Logger: log}
		ln := c.listener
		if ln == nil {
			if ln, err = net.Listen("tcp", c.listen); err != nil {
				return abort(fmt.Errorf("webhook: %w", err))
			}
		}
		srv := &http.Server{Handler: hook, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, MaxHeaderBytes: 16 << 10}
		goRun("webhook", func() error {
			defer close(intakeDone)
			go func() {
				<-intakeCtx.Done()
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(sctx) // waits for requests in flight: their updates are stored first
			}()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
		if err := setWebhook(sctx, c); err != nil {
			return abort(err)
		}
		log.Info("serving", "mode", "webhook", "listen", ln.Addr().String())
		if c.ready != nil {
			c.ready(ln.Addr().String())
		}
	} else {
		// Telegram refuses getUpdates while a webhook is set; pending updates are kept.
		if err := deleteWebhook(sctx, c); err != nil {
			return abort(err)
		}
		poller := &bot.Poller{APIURL: c.api, Token: c.token, Store: store, Seal: sealUpdate, ChatKey: chatKey, DeadLetter: deadLetter, Stored: disp.Notify, Timeout: c.pollTimeout, Logger: log, Leases: store, Owner: owner}
		goRun("poller", func() error { defer close(intakeDone); return poller.Run(intakeCtx) })
		log.Info("serving", "mode", "polling")
		if c.ready != nil {
			c.ready("")
		}
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down: no new updates; finishing turns in flight")
	case runErr = <-errs:
		log.Error("stopping", "err", runErr)
	}
	stopIntake()
	<-intakeDone
	stopDispatch()
	<-dispatchDone
	flushOutbox(store, c.shutdown, sendDone, log)
	stopSend()
	wg.Wait()
	if runErr == nil {
		select {
		case runErr = <-errs:
		default:
		}
	}
	log.Info("stopped")
	return runErr
}

// leaseOwner names this process in leases. A bbolt file is opened by one process at a time, so
// any lease found in it was left by a process that died: a fixed owner takes it back at once
// after a restart. With Redis, replicas share the store, and each gets a random owner.
func leaseOwner(store intake.Store) (string, error) {
	if _, ok := store.(*boltstore.Store); ok {
		return "bolt-single-process", nil
	}
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// flushOutbox lets the sender run until nothing is due or the timeout passes.
func flushOutbox(store intake.Outbox, timeout time.Duration, sendDone <-chan struct{}, log *slog.Logger) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-sendDone:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		due, err := store.DueMessages(ctx, time.Now(), 1)
		cancel()
		if err == nil && len(due) == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	log.Warn("shutdown: outbox not empty; the rest goes out after the restart")
}

// telegramClient is a go-telegram/bot client for the configured server. Without skipGetMe it
// calls getMe, so a bad token fails here.
func telegramClient(ctx context.Context, c *serveConfig, skipGetMe bool) (*tgbot.Bot, error) {
	opts := []tgbot.Option{tgbot.WithServerURL(strings.TrimSuffix(c.api, "/")), tgbot.WithCheckInitTimeout(startupTimeout)}
	if skipGetMe {
		opts = append(opts, tgbot.WithSkipGetMe())
	}
	return tgbot.New(c.token, opts...)
}

// checkTelegram fails fast on a rejected token or an unreachable Bot API server. The error never
// holds the token (it is in the request URL).
func checkTelegram(ctx context.Context, c *serveConfig) error {
	_, err := telegramClient(ctx, c, false)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, tgbot.ErrorUnauthorized):
		return errors.New("telegram rejected the bot token (401 Unauthorized): check --telegram-token")
	case errors.Is(err, tgbot.ErrorNotFound):
		return errors.New("telegram answered 404 to getMe: the bot token is not valid")
	}
	return fmt.Errorf("cannot reach the Bot API at %s (getMe failed)", c.api)
}

// setWebhook registers the webhook with the secret and the update kinds Penah handles. Pending
// updates are kept (drop_pending_updates false): none may be lost.
func setWebhook(ctx context.Context, c *serveConfig) error {
	client, err := telegramClient(ctx, c, true)
	if err != nil {
		return err
	}
	if _, err := client.SetWebhook(ctx, &tgbot.SetWebhookParams{URL: c.webhook, SecretToken: c.secret, AllowedUpdates: bot.AllowedUpdates}); err != nil {
		return fmt.Errorf("setWebhook failed: %s", errClass(err))
	}
	return nil
}

// commandMenus are the languages of Telegram's command menu: setMyCommands takes a two-letter
// ISO 639-1 code, so Kurmanji is "ku" and Sorani (ISO 639-3 ckb, no two-letter code) sees the
// default menu, in English, until Telegram offers one.
var commandMenus = []struct {
	code string // "" is the default menu
	lang locales.Lang
}{{"", locales.EN}, {"ar", locales.AR}, {"ku", locales.KMR}}

// setCommands fills Telegram's command menu in each language it can hold.
func setCommands(ctx context.Context, c *serveConfig, cat *locales.Catalog) error {
	client, err := telegramClient(ctx, c, true)
	if err != nil {
		return err
	}
	cmds := []struct {
		name string
		msg  locales.MsgID
	}{{"start", locales.MsgMenuStart}, {"back", locales.MsgMenuBack}, {"language", locales.MsgMenuLanguage},
		{"help", locales.MsgMenuHelp}, {"forget", locales.MsgMenuForget}, {"exit", locales.MsgMenuExit}}
	for _, m := range commandMenus {
		var list []models.BotCommand
		for _, cmd := range cmds {
			list = append(list, models.BotCommand{Command: cmd.name, Description: cat.T(m.lang, cmd.msg, nil)})
		}
		if _, err := client.SetMyCommands(ctx, &tgbot.SetMyCommandsParams{Commands: list, LanguageCode: m.code}); err != nil {
			return fmt.Errorf("setMyCommands %q: %s", m.code, errClass(err))
		}
	}
	return nil
}

// deleteWebhook switches the bot to getUpdates, keeping pending updates.
func deleteWebhook(ctx context.Context, c *serveConfig) error {
	client, err := telegramClient(ctx, c, true)
	if err != nil {
		return err
	}
	if _, err := client.DeleteWebhook(ctx, &tgbot.DeleteWebhookParams{DropPendingUpdates: false}); err != nil {
		return fmt.Errorf("deleteWebhook failed: %s", errClass(err))
	}
	return nil
}

// errClass names a Bot API error without its text (which may quote a URL with the token).
func errClass(err error) string {
	var tooMany *tgbot.TooManyRequestsError
	switch {
	case errors.Is(err, tgbot.ErrorUnauthorized):
		return "401 Unauthorized"
	case errors.Is(err, tgbot.ErrorBadRequest):
		return "400 Bad Request"
	case errors.Is(err, tgbot.ErrorForbidden):
		return "403 Forbidden"
	case errors.As(err, &tooMany):
		return "429 Too Many Requests"
	}
	return "network or server error"
}
