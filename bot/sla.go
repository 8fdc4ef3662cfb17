package bot

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/locales"
)

// Escalation levels recorded on a case (intake.Queues.Escalate): past its claim SLA a case goes
// to the team's supervisors, and half an SLA later to the backup team, each level once.
const (
	escalateSupervisors = 1
	escalateBackup      = 2
)

// Defaults of the SLA scheduler.
const (
	// SLAEvery is how often the scheduler looks for cases due a reminder or an escalation.
	SLAEvery = 30 * time.Second
	// IdleAfter is how long a claimed case may go without an action by its officer before the
	// officer is reminded (once per idle stretch).
	IdleAfter = 24 * time.Hour
	// SchedulerLease is the lease that keeps one scheduler active across replicas.
	SchedulerLease intake.SessionKey = "~scheduler"
)

// Scheduler watches the claim SLAs (DESIGN.md §5): at half a case's SLA its team is reminded, at
// the breach its supervisors are told (escalation level 1), half an SLA later the backup team
// (level 2), each once. Outside the team's working hours a reminder or escalation waits for the
// next opening, except for priority 1. A claimed case left without an officer action for
// IdleAfter is reminded to its officer. One replica runs it at a time (a lease).
//
// An escalation is recorded before its notices are committed: a crash in between loses those
// notices (the case still shows as escalated in every queue) rather than sending them twice.
type Scheduler struct {
	D *Dispatcher
	// Every and IdleAfter override the defaults (0: SLAEvery, IdleAfter).
	Every, IdleAfter time.Duration
	Owner            string
	Logger           *slog.Logger
}

// Run checks every Every until ctx is done.
func (s *Scheduler) Run(ctx context.Context) error {
	every := s.Every
	if every <= 0 {
		every = SLAEvery
	}
	lease := &singleton{leases: s.D.Store, key: SchedulerLease, owner: s.Owner}
	defer lease.release()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if ok, err := lease.hold(ctx); ok {
			if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
				s.logger().Warn("SLA check failed", "err", err)
			}
		} else if err != nil && ctx.Err() == nil {
			s.logger().Warn("scheduler lease failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Scheduler) logger() *slog.Logger { return componentLogger(s.Logger, "sla") }

// Tick runs one round of checks at the dispatcher's clock.
func (s *Scheduler) Tick(ctx context.Context) error {
	d := s.D
	now := d.now()
	due, err := d.Store.Overdue(ctx, now, intake.MaxBatch)
	if err != nil {
		return err
	}
	for _, c := range due {
		if err := s.step(ctx, c, now); err != nil {
			s.logger().Warn("SLA step failed", "ref", string(c.Ref), "err", err)
		}
	}
	return s.idle(ctx, now)
}

// step handles one case whose Deadline has come.
func (s *Scheduler) step(ctx context.Context, c *intake.Case, now time.Time) error {
	d := s.D
	team, err := d.Roster.Team(ctx, c.Team)
	if err != nil {
		return err
	}
	if team == nil {
		team = &TeamInfo{Name: c.Team}
	}
	if c.ClaimBy.IsZero() {
		return s.setDeadline(ctx, c, time.Time{})
	}
	if c.Priority != 1 && !team.open(now) {
		return s.setDeadline(ctx, c, team.nextOpen(now))
	}
	sla := c.ClaimBy.Sub(c.Created)
	switch {
	case now.Before(c.ClaimBy) && !c.Reminded:
		err := d.Store.UpdateCase(ctx, c.Ref, 0, func(s *intake.Case) error {
			if s.Reminded {
				return errAlreadyApplied
			}
			s.Reminded, s.Deadline = true, s.ClaimBy
			return nil
		}, &intake.AuditEntry{Time: now, Actor: "system", Action: "reminded", Ref: c.Ref, From: c.Status, To: c.Status, Reason: "half the claim SLA"})
		if errors.Is(err, errAlreadyApplied) {
			return nil
		} else if err != nil {
			return err
		}
		return s.notify(ctx, s.onDuty(ctx, c.Team), c, locales.MsgSLAReminder, now)
	case now.Before(c.ClaimBy):
		return s.setDeadline(ctx, c, c.ClaimBy)
	case c.Escalation < escalateSupervisors:
		raised, err := d.Store.Escalate(ctx, c.Ref, escalateSupervisors, now)
		if err != nil || !raised {
			return err
		}
		if err := s.setDeadline(ctx, c, c.ClaimBy.Add(sla/2)); err != nil {
			return err
		}
		return s.notify(ctx, s.supervisors(ctx, team), c, locales.MsgSLAEscalated, now)
	case c.Escalation < escalateBackup && now.Before(c.ClaimBy.Add(sla/2)):
		return s.setDeadline(ctx, c, c.ClaimBy.Add(sla/2))
	case c.Escalation < escalateBackup:
		raised, err := d.Store.Escalate(ctx, c.Ref, escalateBackup, now)
		if err != nil || !raised {
			return err
		}
		if err := s.setDeadline(ctx, c, time.Time{}); err != nil {
			return err
		}
		if team.Backup == "" {
			return nil
		}
		return s.notify(ctx, s.onDuty(ctx, team.Backup), c, locales.MsgSLAEscalated, now)
	}
	return s.setDeadline(ctx, c, time.Time{})
}

func (s *Scheduler) setDeadline(ctx context.Context, c *intake.Case, at time.Time) error {
	return s.D.Store.UpdateCase(ctx, c.Ref, 0, func(s *intake.Case) error { s.Deadline = at; return nil }, nil)
}

// onDuty lists a team's active officers on duty, or all its active officers when none is.
func (s *Scheduler) onDuty(ctx context.Context, team string) []*OfficerInfo {
	all, err := s.D.Roster.TeamOfficers(ctx, team)
	if err != nil {
		s.logger().Warn("listing officers failed", "team", team, "err", err)
		return nil
	}
	var on, active []*OfficerInfo
	for _, o := range all {
		if o.Active {
			active = append(active, o)
			if o.OnDuty {
				on = append(on, o)
			}
		}
	}
	if len(on) > 0 {
		return on
	}
	return active
}

// supervisors lists the team's supervisors: its officers with a supervisor or admin role and
// the officers the team names.
func (s *Scheduler) supervisors(ctx context.Context, t *TeamInfo) []*OfficerInfo {
	all, err := s.D.Roster.TeamOfficers(ctx, t.Name)
	if err != nil {
		s.logger().Warn("listing officers failed", "team", t.Name, "err", err)
	}
	var out []*OfficerInfo
	seen := map[string]bool{}
	for _, o := range all {
		if o.Active && o.Supervises(t.Name) {
			out, seen[o.ID] = append(out, o), true
		}
	}
	for _, id := range t.Supervisors {
		if o, err := s.D.Roster.Officer(ctx, id); err == nil && o != nil && o.Active && !seen[id] {
			out, seen[id] = append(out, o), true
		}
	}
	return out
}

// notify sends a case notice (msg, with the case's routing fields and a Claim button) to officers.
func (s *Scheduler) notify(ctx context.Context, officers []*OfficerInfo, c *intake.Case, msg locales.MsgID, now time.Time) error {
	d := s.D
	age := now.Sub(c.Created).Round(time.Minute).String()
	for _, o := range officers {
		key := d.ChatKey(o.ChatID)
		deliver := func(*intake.Outcome) ([]intake.OutboxMessage, error) {
			head, err := d.say(key, o.ChatID, o.Lang(), msg, map[string]any{"Ref": string(c.Ref), "Priority": c.Priority, "Age": age}, "", nil)
			if err != nil {
				return nil, err
			}
			notice, err := d.notice(key, o.ChatID, o.Lang(), c)
			return append(head, notice...), err
		}
		if err := d.Service.Notify(ctx, intake.Turn{Key: key, Deliver: deliver}, ""); err != nil {
			return err
		}
	}
	d.wakeSender()
	return nil
}

// idle reminds officers of claimed cases they have not acted on for IdleAfter.
func (s *Scheduler) idle(ctx context.Context, now time.Time) error {
	d := s.D
	after := s.IdleAfter
	if after <= 0 {
		after = IdleAfter
	}
	for _, st := range []intake.Status{intake.StatusClaimed, intake.StatusInContact, intake.StatusReferred} {
		cases, err := d.Store.ListCases(ctx, intake.CaseFilter{Status: st})
		if err != nil {
			return err
		}
		for _, c := range cases {
			touched := c.Touched
			if touched.IsZero() {
				touched = c.Claimed
			}
			if now.Sub(touched) < after || c.IdleReminded.After(touched) {
				continue
			}
			o, err := d.Roster.Officer(ctx, c.ClaimedBy)
			if err != nil || o == nil || !o.Active {
				continue
			}
			if err := d.Store.UpdateCase(ctx, c.Ref, 0, func(s *intake.Case) error { s.IdleReminded = now; return nil }, nil); err != nil {
				return err
			}
			key := d.ChatKey(o.ChatID)
			deliver := func(*intake.Outcome) ([]intake.OutboxMessage, error) {
				return d.say(key, o.ChatID, o.Lang(), locales.MsgIdleReminder, map[string]any{"Ref": string(c.Ref), "Age": now.Sub(touched).Round(time.Minute).String()}, "", nil)
			}
			if err := d.Service.Notify(ctx, intake.Turn{Key: key, Deliver: deliver}, ""); err != nil {
				return err
			}
		}
	}
	return nil
}
