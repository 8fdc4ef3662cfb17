// Package migratetest holds the cross-engine tests of intake.Dumper: records dumped from one
// engine and restored into the other (what `penah store migrate` does) come out of the target's
// dump the same, and the target behaves as the source did. Its tests need a redis-server (see
// redistest); they fail rather than skip under CI=true.
package migratetest
