// Package intake is the centre of Penah: it ties one turn together (load the session, run the
// engine, turn a submission into a case, save everything atomically) and declares the storage
// contract the adapters in internal/store implement. It knows no Telegram, no HTTP, no database.
package intake
