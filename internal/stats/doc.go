// Package stats counts cases for reports without exposing anyone in them (`penah stats`).
//
// What it reads. Only a Record: a case's status, creation and claim times, priority, language
// and four closed routing fields (topic, governorate, age band, services). FromCase is the one
// function that sees an intake.Case, and it copies nothing else: no reference, verification
// code, team, officer, envelope or sealed answers; a routing value that is not an id is counted
// as "(other)" and never printed. `penah stats` opens the store without the master key, so it
// could not open a sealed body even by mistake.
//
// What it counts. Cases created in a Period (Since included, Until excluded), read from the store
// in pages of at most intake.MaxBatch (Read). A case the person withdrew with /forget is counted
// in the status table and nowhere else, not even in its total: the person asked to be erased,
// and the respectful reading of that is that their topic, place, age and the rest no longer
// inform anything. Cases shredded at the end of their retention count everywhere (their
// tombstones keep the routing fields for this). Services is multi-valued: a case counts once for
// each service it asks for, and that table has no total.
//
// What it publishes. Every count below MinCellCount (11), zero included, is shown as "<11";
// so is every count that would let one of those be worked out from the others: by subtracting
// from a total or a margin, by combining several sums, or because counts are not negative
// (secondary suppression, see problem.protect). Hidden counts all carry the same mark, and are
// not in the Report at all. Percentiles of time to claim are shown only with their count. Each
// breakdown lists every known category (all governorates, all topics…), so that a row's
// presence says nothing, and a zero is hidden like any small count: "nobody from Basra reported
// forced marriage" is what someone checking on one person wants to know. Zeros that say nothing
// about a person (no case closed yet, no P2 case claimed) may be worked out.
//
// What it does not prevent. Two reports over overlapping periods, or the same period before and
// after a change (a /forget, say), can be subtracted from each other: publish reports for fixed,
// closed periods (a month, a quarter), not a running series. A reader who knows how suppression
// works can narrow a hidden count to a range, but not to a value. A shown percentile is one
// case's time to claim, to the minute.
package stats
