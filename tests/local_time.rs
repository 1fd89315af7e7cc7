//! `time_zone = "local"` across daylight-saving changes, in the machine's real zone
//! database: a skipped local time is the first moment after the gap, a repeated one its
//! first occurrence, and billing cycles and daily runs follow. The zone is chosen with
//! `TZ`, which this binary's one test sets, then reads in a new thread (chrono keeps the
//! zone per thread); no other thread runs meanwhile. The expected instants were worked
//! out with Python's `zoneinfo`, not with the code under test.

use chrono::NaiveDateTime;
use turnstile::billing::cycle::CycleRule;
use turnstile::catalog::CycleUnit;
use turnstile::clock::Zone;

fn local(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

fn utc(s: &str) -> i64 {
    local(s).and_utc().timestamp()
}

#[track_caller]
fn check(zone_name: &str, cases: &[(&str, &str)]) {
    for (at, expected) in cases {
        assert_eq!(
            Zone::Local.unix(local(at)),
            Ok(utc(expected)),
            "{zone_name} {at} should be {expected} UTC"
        );
    }
}

/// Runs `cases` in a thread of its own with `TZ` set to `zone`.
fn in_zone(zone: &str, cases: fn()) {
    std::env::set_var("TZ", zone);
    std::thread::spawn(cases).join().expect("the cases pass");
}

#[test]
fn skipped_and_repeated_local_times() {
    in_zone("America/New_York", new_york);
    in_zone("Australia/Lord_Howe", lord_howe);
}

fn new_york() {
    // 2027-03-14: 02:00 EST jumps to 03:00 EDT (07:00 UTC).
    check(
        "New York",
        &[
            ("2027-03-14 01:59:59", "2027-03-14 06:59:59"),
            ("2027-03-14 02:00:00", "2027-03-14 07:00:00"),
            ("2027-03-14 02:07:00", "2027-03-14 07:00:00"),
            ("2027-03-14 02:40:00", "2027-03-14 07:00:00"),
            ("2027-03-14 02:59:59", "2027-03-14 07:00:00"),
            ("2027-03-14 03:00:00", "2027-03-14 07:00:00"),
            ("2027-03-14 03:07:00", "2027-03-14 07:07:00"),
            // 2027-11-07: 02:00 EDT falls back to 01:00 EST; 01:00–01:59 happen twice.
            ("2027-11-07 00:59:00", "2027-11-07 04:59:00"),
            ("2027-11-07 01:00:00", "2027-11-07 05:00:00"),
            ("2027-11-07 01:37:00", "2027-11-07 05:37:00"),
            ("2027-11-07 01:59:59", "2027-11-07 05:59:59"),
            ("2027-11-07 02:00:00", "2027-11-07 07:00:00"),
        ],
    );
    // Every second of the gap is its end.
    let gap_start = local("2027-03-14 02:00:00");
    for s in (0..3600).step_by(7) {
        let t = gap_start + chrono::Duration::seconds(s);
        assert_eq!(Zone::Local.unix(t), Ok(utc("2027-03-14 07:00:00")), "{t}");
    }

    // A monthly anniversary instance from 2027-02-14 02:40 EST: its anniversary in March
    // falls in the gap, so the cycle ends at 03:00 EDT; April's exists again (02:40 EDT).
    let monthly = CycleRule {
        unit: CycleUnit::Month,
        count: 1,
        anniversary: true,
    };
    let origin = utc("2027-02-14 07:40:00");
    assert_eq!(
        monthly.end_after(origin, origin, Zone::Local),
        Ok(utc("2027-03-14 07:00:00"))
    );
    assert_eq!(
        monthly.cycle_at(origin, utc("2027-03-20 00:00:00"), Zone::Local),
        Ok((utc("2027-03-14 07:00:00"), utc("2027-04-14 06:40:00")))
    );
    // A daily run at 02:40 runs at the end of the gap that day.
    assert_eq!(
        Zone::Local.next_daily(utc("2027-03-13 17:00:00"), 2 * 60 + 40),
        Ok(utc("2027-03-14 07:00:00"))
    );
}

fn lord_howe() {
    // Lord Howe Island moves by 30 minutes: 2027-10-03 02:00 (+10:30) jumps to 02:30
    // (+11:00); 2027-04-04 02:00 (+11:00) falls back to 01:30 (+10:30).
    check(
        "Lord Howe",
        &[
            ("2027-10-03 01:59:00", "2027-10-02 15:29:00"),
            ("2027-10-03 02:00:00", "2027-10-02 15:30:00"),
            ("2027-10-03 02:13:00", "2027-10-02 15:30:00"),
            ("2027-10-03 02:29:59", "2027-10-02 15:30:00"),
            ("2027-10-03 02:30:00", "2027-10-02 15:30:00"),
            ("2027-04-04 01:29:00", "2027-04-03 14:29:00"),
            ("2027-04-04 01:30:00", "2027-04-03 14:30:00"),
            ("2027-04-04 01:45:00", "2027-04-03 14:45:00"),
            ("2027-04-04 02:00:00", "2027-04-03 15:30:00"),
        ],
    );
}
