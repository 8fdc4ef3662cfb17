package locales

// MsgID names one chrome message. Every MsgID declared here must exist in
// every language's catalog; [Load] fails otherwise.
type MsgID string

// Buttons.
const (
	MsgBack       MsgID = "back"
	MsgSkip       MsgID = "skip"
	MsgDone       MsgID = "done"
	MsgExit       MsgID = "exit" // the quick-exit button
	MsgYesSafe    MsgID = "yes_safe"
	MsgNotNow     MsgID = "not_now"
	MsgForgetYes  MsgID = "forget_yes"
	MsgCancel     MsgID = "cancel"
	MsgStartAgain MsgID = "start_again"
)

// The language picker. The picker shows this line in all four languages at
// once; see [Catalog.ChooseLanguagePrompt].
const MsgChooseLanguage MsgID = "choose_language"

// Replies to input the current question cannot take.
const (
	MsgInvalidChoice MsgID = "invalid_choice"
	MsgInvalidNumber MsgID = "invalid_number" // {{.Min}}, {{.Max}}
	MsgInvalidPhone  MsgID = "invalid_phone"
	MsgTextTooLong   MsgID = "text_too_long" // plural on {{.Count}}, the maximum number of characters
	MsgTextEmpty     MsgID = "text_empty"
	MsgNeedOne       MsgID = "need_one"
	MsgNotSkippable  MsgID = "not_skippable"
)

// Progress notes.
const (
	MsgSelected    MsgID = "selected" // plural on {{.Count}}, the number of options chosen
	MsgSkipped     MsgID = "skipped"
	MsgAnswered    MsgID = "answered"
	MsgNothingBack MsgID = "nothing_back"
)

// Pauses and expiry.
const (
	MsgResumeCheck MsgID = "resume_check"
	MsgResumeLater MsgID = "resume_later"
	MsgExpired     MsgID = "expired"
)

// Global commands and their replies.
const (
	MsgHelp            MsgID = "help"
	MsgExitDone        MsgID = "exit_done" // one neutral line; must not reveal what the bot is about
	MsgForgetConfirm   MsgID = "forget_confirm"
	MsgForgetDone      MsgID = "forget_done"
	MsgForgetCancelled MsgID = "forget_cancelled"
)

// Session ends and errors.
const (
	MsgSessionDone  MsgID = "session_done"
	MsgStaleButton  MsgID = "stale_button"
	MsgErrorGeneric MsgID = "error_generic"
)

// Notices of the Telegram edge (bot): what is not a turn of a flow.
const (
	MsgFloodNotice   MsgID = "flood_notice"   // once, when a person sends faster than the flood limit
	MsgNotText       MsgID = "not_text"       // a sticker, photo, voice, file, location or contact
	MsgGroupRefused  MsgID = "group_refused"  // the bot does not take intakes in groups; neutral
	MsgEditedIgnored MsgID = "edited_ignored" // an edited message is not read
	MsgExitPartial   MsgID = "exit_partial"   // the /exit line when older messages could not be deleted; neutral
)

// Descriptions of the commands in Telegram's command menu (setMyCommands): at most
// MaxCommandDescription characters each.
const (
	MsgMenuStart    MsgID = "menu_start"
	MsgMenuExit     MsgID = "menu_exit"
	MsgMenuBack     MsgID = "menu_back"
	MsgMenuLanguage MsgID = "menu_language"
	MsgMenuForget   MsgID = "menu_forget"
	MsgMenuHelp     MsgID = "menu_help"
)

// The officer side and the relay (issue 6). Officers read them in their first language.
const (
	MsgOfficerWelcome   MsgID = "officer_welcome"
	MsgOfficerHelp      MsgID = "officer_help"
	MsgDutyOn           MsgID = "duty_on"
	MsgDutyOff          MsgID = "duty_off"
	MsgQueueEmpty       MsgID = "queue_empty"
	MsgMineEmpty        MsgID = "mine_empty"
	MsgClaimButton      MsgID = "claim_button"
	MsgCaseNotice       MsgID = "case_notice"
	MsgClaimedOK        MsgID = "claimed_ok"
	MsgClaimedByOther   MsgID = "claimed_by_other"
	MsgNotAllowed       MsgID = "not_allowed"
	MsgReleasedOK       MsgID = "released_ok"
	MsgClosedOK         MsgID = "closed_ok"
	MsgCloseUsage       MsgID = "close_usage"
	MsgReferOK          MsgID = "refer_ok"
	MsgReferNoConsent   MsgID = "refer_no_consent"
	MsgReferUsage       MsgID = "refer_usage"
	MsgNoteOK           MsgID = "note_ok"
	MsgRelayFromPerson  MsgID = "relay_from_person"
	MsgRelayBlocked     MsgID = "relay_blocked"
	MsgRelayNotOpen     MsgID = "relay_not_open"
	MsgOfficerFirst     MsgID = "officer_first"
	MsgOfficerSays      MsgID = "officer_says"
	MsgStatusWaiting    MsgID = "status_waiting"
	MsgStatusClaimed    MsgID = "status_claimed"
	MsgStatusClosed     MsgID = "status_closed"
	MsgStatusNone       MsgID = "status_none"
	MsgCaseClosedPerson MsgID = "case_closed_person"
	MsgInfoButton       MsgID = "info_button"
	MsgSLAReminder      MsgID = "sla_reminder"
	MsgSLAEscalated     MsgID = "sla_escalated"
	MsgIdleReminder     MsgID = "idle_reminder"
	MsgStepNotPossible  MsgID = "case_step_not_possible"
)

// Governorate names (see [Governorates] and [GovernorateMsg]).
const (
	MsgGovAnbar        MsgID = "gov_anbar"
	MsgGovBabil        MsgID = "gov_babil"
	MsgGovBaghdad      MsgID = "gov_baghdad"
	MsgGovBasra        MsgID = "gov_basra"
	MsgGovDhiQar       MsgID = "gov_dhi_qar"
	MsgGovDiyala       MsgID = "gov_diyala"
	MsgGovDuhok        MsgID = "gov_duhok"
	MsgGovErbil        MsgID = "gov_erbil"
	MsgGovKarbala      MsgID = "gov_karbala"
	MsgGovKirkuk       MsgID = "gov_kirkuk"
	MsgGovMaysan       MsgID = "gov_maysan"
	MsgGovMuthanna     MsgID = "gov_muthanna"
	MsgGovNajaf        MsgID = "gov_najaf"
	MsgGovNineveh      MsgID = "gov_nineveh"
	MsgGovQadisiyah    MsgID = "gov_qadisiyah"
	MsgGovSalahAlDin   MsgID = "gov_salah_al_din"
	MsgGovSulaymaniyah MsgID = "gov_sulaymaniyah"
	MsgGovWasit        MsgID = "gov_wasit"
	MsgGovOutsideIraq  MsgID = "gov_outside_iraq"
)

// governorateMsgPrefix turns a governorate id into its MsgID.
const governorateMsgPrefix = "gov_"

// Command words: "|"-separated words or short phrases that, typed alone, act
// as the command (see [Catalog.ParseCommand]).
const (
	MsgCmdStart    MsgID = "cmd_start"
	MsgCmdExit     MsgID = "cmd_exit"
	MsgCmdBack     MsgID = "cmd_back"
	MsgCmdLanguage MsgID = "cmd_language"
	MsgCmdHelp     MsgID = "cmd_help"
	MsgCmdForget   MsgID = "cmd_forget"
	MsgCmdSkip     MsgID = "cmd_skip"
	MsgCmdDone     MsgID = "cmd_done"
)

// msgIDs is every MsgID the catalogs must hold. Keep it in step with the
// constants above; TestMsgIDsDeclared checks the source file.
var msgIDs = []MsgID{
	MsgBack, MsgSkip, MsgDone, MsgExit, MsgYesSafe, MsgNotNow, MsgForgetYes, MsgCancel, MsgStartAgain,
	MsgChooseLanguage,
	MsgInvalidChoice, MsgInvalidNumber, MsgInvalidPhone, MsgTextTooLong, MsgTextEmpty, MsgNeedOne, MsgNotSkippable,
	MsgSelected, MsgSkipped, MsgAnswered, MsgNothingBack,
	MsgResumeCheck, MsgResumeLater, MsgExpired,
	MsgHelp, MsgExitDone, MsgForgetConfirm, MsgForgetDone, MsgForgetCancelled,
	MsgSessionDone, MsgStaleButton, MsgErrorGeneric,
	MsgFloodNotice, MsgNotText, MsgGroupRefused, MsgEditedIgnored, MsgExitPartial,
	MsgMenuStart, MsgMenuExit, MsgMenuBack, MsgMenuLanguage, MsgMenuForget, MsgMenuHelp,
	MsgOfficerWelcome, MsgOfficerHelp, MsgDutyOn, MsgDutyOff, MsgQueueEmpty, MsgMineEmpty, MsgClaimButton, MsgCaseNotice, MsgClaimedOK, MsgClaimedByOther, MsgNotAllowed, MsgReleasedOK, MsgClosedOK, MsgCloseUsage, MsgReferOK, MsgReferNoConsent, MsgReferUsage, MsgNoteOK, MsgRelayFromPerson, MsgRelayBlocked, MsgRelayNotOpen, MsgOfficerFirst, MsgOfficerSays, MsgStatusWaiting, MsgStatusClaimed, MsgStatusClosed, MsgStatusNone, MsgCaseClosedPerson, MsgInfoButton, MsgSLAReminder, MsgSLAEscalated, MsgIdleReminder, MsgStepNotPossible,
	MsgGovAnbar, MsgGovBabil, MsgGovBaghdad, MsgGovBasra, MsgGovDhiQar, MsgGovDiyala, MsgGovDuhok,
	MsgGovErbil, MsgGovKarbala, MsgGovKirkuk, MsgGovMaysan, MsgGovMuthanna, MsgGovNajaf, MsgGovNineveh,
	MsgGovQadisiyah, MsgGovSalahAlDin, MsgGovSulaymaniyah, MsgGovWasit, MsgGovOutsideIraq,
	MsgCmdStart, MsgCmdExit, MsgCmdBack, MsgCmdLanguage, MsgCmdHelp, MsgCmdForget, MsgCmdSkip, MsgCmdDone,
}

// pluralMsgs are the messages selected by a count ([Catalog.Plural]); each
// language must provide every plural form its CLDR rule uses for whole
// numbers. All other messages are a single text.
var pluralMsgs = map[MsgID]bool{
	MsgTextTooLong: true,
	MsgSelected:    true,
}

// buttonMsgs are shown as button labels and must fit Telegram's limit
// (MaxButtonLabel).
var buttonMsgs = []MsgID{
	MsgBack, MsgSkip, MsgDone, MsgExit, MsgYesSafe, MsgNotNow, MsgForgetYes, MsgCancel, MsgStartAgain,
	MsgClaimButton, MsgInfoButton,
}

// MsgIDs returns every MsgID the catalogs hold, in a fixed order.
func MsgIDs() []MsgID {
	return append([]MsgID(nil), msgIDs...)
}

// IsPlural reports whether id is a plural message, to be shown with
// [Catalog.Plural].
func IsPlural(id MsgID) bool { return pluralMsgs[id] }

// Governorates lists the governorate ids of the governorate picker: Iraq's
// 18 governorates from north to south (the camps and most displaced people
// are in the north, so they come first, and a geographic order reads the
// same in every language, unlike an alphabetical one), then "outside_iraq".
// These ids are routing values; [GovernorateMsg] gives the label.
var Governorates = []string{
	"duhok", "nineveh", "erbil", "kirkuk", "sulaymaniyah", "salah_al_din", "diyala", "anbar", "baghdad",
	"wasit", "babil", "karbala", "najaf", "qadisiyah", "maysan", "dhi_qar", "muthanna", "basra",
	"outside_iraq",
}

// NumGovernorates is the number of Iraqi governorates in [Governorates]
// (the list also holds "outside_iraq").
const NumGovernorates = 18

// GovernorateMsg returns the MsgID of the label of governorate id (one of
// [Governorates]). It does not check id; [IsGovernorate] does.
func GovernorateMsg(id string) MsgID {
	return MsgID(governorateMsgPrefix + id)
}

// IsGovernorate reports whether id is one of [Governorates].
func IsGovernorate(id string) bool {
	for _, g := range Governorates {
		if g == id {
			return true
		}
	}
	return false
}
