// Package forget decides which snapshots a retention policy keeps and which
// it removes. It is pure logic over snapshot metadata: it reads no
// repository, deletes nothing and knows nothing of backends, encryption or
// the CLI. The caller loads the snapshots, calls Apply, shows the result
// and removes the snapshots whose Decision says Keep == false.
//
// # Grouping
//
// Snapshots are first split into groups (GroupBy); the policy is applied
// to each group on its own, so every host (or every host and path set, the
// usual choice) keeps its own history. Paths and tags are compared as sets:
// ["/etc", "/home"] and ["/home", "/etc"] are the same group. A field that
// is not grouped on is left empty in the GroupKey. Groups are returned in
// ascending order of host, then paths, then tags.
//
// Within a group, snapshots are ordered newest first; snapshots with the
// same time are ordered by descending ID, so the result does not depend on
// the order in which a backend listed them.
//
// # Rules
//
// The snapshots of a group are visited newest first. A snapshot is kept if
// any rule keeps it, and its Decision lists every rule that did, in the
// order tag, within, last, hourly, daily, weekly, monthly, yearly.
//
//   - Last n keeps the n newest snapshots. The reason's period is the
//     snapshot's position in the group, "1" for the newest.
//   - Hourly, Daily, Weekly, Monthly and Yearly n each keep the newest
//     snapshot of each of the n most recent periods that contain a
//     snapshot: periods without a snapshot do not count, so "7 daily"
//     means seven distinct days on which backups ran, not the last seven
//     calendar days. Periods are computed in the location passed to Apply:
//     an hour is a clock hour, a day a calendar day, a week an ISO 8601
//     week (Monday to Sunday; the days around New Year may belong to the
//     neighbouring year's week), a month a calendar month and a year a
//     calendar year. A period starts at its first instant: a snapshot at
//     00:00:00 belongs to the day that starts then. Reason periods are
//     written "2006-01-02 15:00", "2006-01-02", "2006-W01", "2006-01" and
//     "2006".
//   - When a counted rule (last to yearly) still has count left at the
//     oldest snapshot of a group, that snapshot is kept too, even if it
//     falls in a period already kept, so that a young repository keeps its
//     longest possible history. Its reason's period then ends in
//     " (oldest)". The count is used up as for any other kept snapshot.
//   - A count of -1 means unlimited: every period that contains a snapshot
//     is kept (and the oldest snapshot, by the rule above). A count of 0
//     turns the rule off. Validate rejects counts below -1; Apply treats
//     them as -1, the choice that keeps more.
//   - Within d keeps every snapshot strictly newer than d before the newest
//     snapshot of the group, not before the current time: a host whose
//     backups stopped a month ago keeps its last d of history. A snapshot
//     exactly d older than the newest is not kept. The reason's period is
//     d, written in days, hours, minutes and seconds ("30d", "1d12h").
//     Validate rejects a negative d; Apply treats it as 0 (rule off).
//   - Tags keeps every snapshot that has all tags of at least one entry.
//     An empty tag "" in an entry matches a snapshot without tags. Tag
//     rules are not counted. The reason's period is the entry's tags
//     joined with ",", the empty tag written as "".
//
// A policy with no rule (Policy.Empty) would remove everything; the CLI
// must refuse it unless the user named snapshots explicitly. Apply itself
// keeps every snapshot under an empty policy, with the reason
// "empty policy".
//
// # Differences from restic
//
// The rules follow current restic's forget, including -1 for unlimited and
// keeping the oldest snapshot while counts are left, with these
// differences:
//
//   - Within is a time.Duration: the CLI converts "30d" to 30×24 hours,
//     where restic adds calendar days, months and years. Across a daylight
//     saving change the window can differ by an hour.
//   - restic ignores snapshots dated in the future when it looks for the
//     newest snapshot for Within; Apply has no clock, so a snapshot with a
//     future time moves the window with it. The CLI may warn about such
//     snapshots.
//   - The keep-within-hourly/daily/... variants are not implemented.
//   - Periods are computed in one location chosen by the caller, where
//     restic uses each snapshot's recorded offset. godwit stores snapshot
//     times in UTC, so the caller's location (normally time.Local) is what
//     makes "daily" mean the user's days.
//   - In a tag entry, "" matches only untagged snapshots and other tags in
//     the same entry still apply (so ["", "x"] matches nothing); restic
//     accepts an untagged snapshot as soon as it meets "". An entry with no
//     tags at all matches every snapshot, as in restic; Validate rejects it.
//   - Ties in time are broken by ID, not by listing order.
package forget
