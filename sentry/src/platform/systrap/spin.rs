//! Adaptive polling of the seccomp-trap platform's hand-off, per application thread: whether
//! the sentry thread and its stub thread poll their slot from two CPUs (about 1 µs a round
//! trip when a core is spare) or sleep on its futex with both pinned to one CPU
//! (sched_setaffinity(2), futex(2); about 3 µs, and robust under load). Pure logic: the
//! context (`context.rs`) feeds it what it saw of each round trip and applies its answers, the
//! poll limits and `ptrace::pin_pair` / `ptrace::unpin_pair`. gVisor's systrap asks the same
//! question of its stub and sentry "fast paths" (`pkg/sentry/platform/systrap`).
//!
//! The policy. A round trip's time is the sentry's handling (from a trap to its RESUME, with
//! the injections and host calls it had the stub make; up to `HELD_CAP_NS`) plus the run to
//! the next trap. A pinned pair keeps a moving average of it. After `FIRST_PROBE` round trips,
//! and then every `backoff`, it probes: the stub thread may leave the CPU, and both sides poll the most. After a warm-up
//! (`WARMUP`: the stub moves, both wake once on their CPUs), each round trip is compared with
//! the pinned average, the difference summed twice: into a credit capped at `CREDIT_NS` (the
//! pair is pinned again when it is spent: polling lost that much against pinning since its
//! best moment), and into the probe's whole gain, warm-up included (a probe that gained
//! halves the back-off, down to `MIN_BACKOFF`; one that lost doubles it, up to
//! `MAX_BACKOFF`). A side whose poll caught the other's answer (a hit) doubles its limit; one
//! that had to sleep (a miss) halves it, to 0 below `MIN_POLLS`; when both reach 0 the pair is
//! pinned too. A stub miss (the sentry took longer than the handler polled: a blocking
//! syscall; or it seized the stub to inject) also costs `STUB_MISS_NS`, for the wake-ups
//! across CPUs the times do not show.
//!
//! So polls are bounded (at most `MAX_POLLS` per side and round trip, about 30 µs), a thread
//! that blocks stops polling after a round or two, an idle sandbox uses no CPU, and a workload
//! that does not gain (forks, file I/O, a loaded machine whose preemptions stall polled round
//! trips) stays pinned except for probes that grow rarer.

use super::Spin;

/// The most polls per side and round trip (a `pause` takes about 14 ns on this VM's CPUs:
/// about 30 µs with the loop around it).
pub const MAX_POLLS: u32 = 2048;
/// A side polls at least this many times or not at all.
const MIN_POLLS: u32 = 16;
/// The sentry's handling of a round trip counts up to this long: beyond it the thread
/// blocked (a sleep, a read that waits), which says little about the hand-off; up to it are
/// the injections and host calls that take longer across CPUs (a fork: about 0.5 ms pinned).
const HELD_CAP_NS: u64 = 1_000_000;
/// Round trips longer than this count as this long (the thread computed; the hand-off's
/// share of it no longer matters).
const SAMPLE_CAP_NS: u64 = 10_000_000;
/// What polling may lose against pinning, from its best moment, before the pair is pinned
/// again.
const CREDIT_NS: i64 = 500_000;
/// Round trips at the start of a probe that are not judged: the stub thread moves to another
/// CPU and both sides wake there from sleep (two wake-ups across CPUs, about 90 µs each
/// here), until both poll.
const WARMUP: u32 = 3;
/// The extra cost of a stub miss while unpinned (the sentry's injections and wake-ups across
/// CPUs, which the round trip's time does not show).
const STUB_MISS_NS: i64 = 20_000;
/// Round trips before a new thread's first probe: past a process's start-up (exec, the
/// dynamic loader, libc's set-up), so that short-lived processes (a shell's commands) never
/// probe.
const FIRST_PROBE: u32 = 1024;
/// Round trips between probes: the fewest, and the most.
const MIN_BACKOFF: u32 = 64;
const MAX_BACKOFF: u32 = 65_536;
/// A new sample's weight in the pinned moving average: 1 / 2^EMA_SHIFT.
const EMA_SHIFT: u32 = 3;

/// How the platform sets the poll limits: fixed (`RUNSC_SYSTRAP_SPIN=SENTRY,STUB`; 0,0 never
/// polls and keeps pairs pinned) or adaptively per thread (the default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SpinMode {
    Fixed(Spin),
    #[default]
    Adaptive,
}

impl SpinMode {
    /// Whether new tracer and stub thread pairs start on one CPU.
    pub fn pins(self) -> bool {
        match self {
            SpinMode::Fixed(spin) => spin == Spin::default(),
            SpinMode::Adaptive => true,
        }
    }

    /// The limits of hand-offs outside application round trips (the handler's host calls for
    /// the sentry, `slot::EXEC`): the fixed ones, or none.
    pub fn fixed(self) -> Spin {
        match self {
            SpinMode::Fixed(spin) => spin,
            SpinMode::Adaptive => Spin::default(),
        }
    }
}

/// What the sentry saw of one round trip.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundTrip {
    /// At the RESUME: the handler was still polling (`Some(true)`) or asleep (`Some(false)`);
    /// `None` if it was not polling at all (limit 0).
    pub stub_hit: Option<bool>,
    /// The sentry's poll saw the trap (`Some(true)`) or it slept (`Some(false)`); `None` if
    /// it did not poll.
    pub sentry_hit: Option<bool>,
    /// Nanoseconds from the sentry seeing the previous trap to its RESUME: its own handling,
    /// with the injections and host calls it had the stub make (counted up to `HELD_CAP_NS`).
    pub held: u64,
    /// Nanoseconds from the RESUME to the sentry seeing the next trap.
    pub ran: u64,
}

/// What to do with the pair's CPU placement after a round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Affinity {
    Keep,
    /// Put the tracer thread and its stub thread on one CPU.
    Pin,
    /// Let them run anywhere (they poll now).
    Unpin,
}

/// One thread's poll limits and placement.
#[derive(Debug, Clone)]
pub struct SpinPolicy {
    inner: Policy,
}

#[derive(Debug, Clone)]
enum Policy {
    Fixed(Spin),
    Adaptive(Adaptive),
}

#[derive(Debug, Clone)]
struct Adaptive {
    limits: Spin,
    pinned: bool,
    /// Moving average of a pinned round trip in ns (`None` before the first).
    pinned_ns: Option<u64>,
    /// While polling: what it may still lose (see the module docs).
    credit: i64,
    /// While polling: what the probe gained so far against the pinned average.
    gain: i64,
    /// While pinned: round trips until the next probe; while polling: until the warm-up ends.
    countdown: u32,
    backoff: u32,
}

impl SpinPolicy {
    /// A new thread's policy: fixed limits, or adaptive, starting pinned without polling
    /// (where `ptrace::Shared::pair_on_one_cpu` put the pair).
    pub fn new(mode: SpinMode) -> SpinPolicy {
        let inner = match mode {
            SpinMode::Fixed(spin) => Policy::Fixed(spin),
            SpinMode::Adaptive => Policy::Adaptive(Adaptive {
                limits: Spin::default(),
                pinned: true,
                pinned_ns: None,
                credit: 0,
                gain: 0,
                countdown: FIRST_PROBE,
                backoff: MIN_BACKOFF,
            }),
        };
        SpinPolicy { inner }
    }

    /// The limits for the next round trip.
    pub fn limits(&self) -> Spin {
        match &self.inner {
            Policy::Fixed(spin) => *spin,
            Policy::Adaptive(a) => a.limits,
        }
    }

    /// Whether it wants round trips timed and recorded (the fixed policy does not).
    pub fn adapts(&self) -> bool {
        matches!(self.inner, Policy::Adaptive(_))
    }

    /// Whether the pair is (meant to be) on one CPU.
    #[cfg(test)]
    pub fn pinned(&self) -> bool {
        match &self.inner {
            Policy::Fixed(spin) => *spin == Spin::default(),
            Policy::Adaptive(a) => a.pinned,
        }
    }

    /// Learns from a round trip made with `limits()`; says how to move the pair.
    pub fn record(&mut self, trip: RoundTrip) -> Affinity {
        match &mut self.inner {
            Policy::Fixed(_) => Affinity::Keep,
            Policy::Adaptive(a) => a.record(trip),
        }
    }
}

impl Adaptive {
    fn record(&mut self, trip: RoundTrip) -> Affinity {
        let sample = trip
            .held
            .min(HELD_CAP_NS)
            .saturating_add(trip.ran)
            .min(SAMPLE_CAP_NS);
        if self.pinned {
            self.pinned_ns = Some(match self.pinned_ns {
                None => sample,
                Some(avg) => avg - (avg >> EMA_SHIFT) + (sample >> EMA_SHIFT),
            });
            self.countdown = self.countdown.saturating_sub(1);
            if self.countdown > 0 {
                return Affinity::Keep;
            }
            self.pinned = false;
            self.limits = Spin {
                sentry: MAX_POLLS,
                stub: MAX_POLLS,
            };
            self.credit = CREDIT_NS;
            self.gain = 0;
            self.countdown = WARMUP;
            return Affinity::Unpin;
        }
        // Both fit in i64: samples are capped, and so is the average of capped samples.
        let pinned_ns = self.pinned_ns.unwrap_or(sample) as i64;
        let mut delta = pinned_ns - sample as i64;
        if trip.stub_hit == Some(false) {
            delta -= STUB_MISS_NS;
        }
        // The warm-up counts against the probe's gain, not its credit.
        self.gain = self.gain.saturating_add(delta);
        if self.countdown > 0 {
            self.countdown -= 1;
            return Affinity::Keep;
        }
        self.credit = self.credit.saturating_add(delta).min(CREDIT_NS);
        self.limits.sentry = adjust(self.limits.sentry, trip.sentry_hit);
        self.limits.stub = adjust(self.limits.stub, trip.stub_hit);
        if self.credit >= 0 && self.limits != Spin::default() {
            return Affinity::Keep;
        }
        self.pinned = true;
        self.limits = Spin::default();
        self.backoff = if self.gain > 0 {
            (self.backoff / 2).max(MIN_BACKOFF)
        } else {
            self.backoff.saturating_mul(2).min(MAX_BACKOFF)
        };
        self.countdown = self.backoff;
        Affinity::Pin
    }
}

/// A side's next limit: doubled after a hit, halved after a miss (0 below `MIN_POLLS`).
fn adjust(limit: u32, hit: Option<bool>) -> u32 {
    match hit {
        None => limit,
        Some(true) => limit.saturating_mul(2).clamp(MIN_POLLS, MAX_POLLS),
        Some(false) if limit / 2 < MIN_POLLS => 0,
        Some(false) => limit / 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HIT: RoundTrip = RoundTrip {
        stub_hit: Some(true),
        sentry_hit: Some(true),
        held: 0,
        ran: 1_000,
    };

    fn pinned_trip(ran: u64) -> RoundTrip {
        RoundTrip {
            stub_hit: None,
            sentry_hit: None,
            held: 0,
            ran,
        }
    }

    /// Feeds `n` round trips `trip`; returns the affinity changes asked for.
    fn feed(policy: &mut SpinPolicy, trip: RoundTrip, n: u32) -> Vec<(u32, Affinity)> {
        (0..n)
            .map(|i| (i, policy.record(trip)))
            .filter(|(_, a)| *a != Affinity::Keep)
            .collect()
    }

    /// A policy that has just started its first probe, after pinned round trips of 3 µs.
    fn probing() -> SpinPolicy {
        probing_after(3_000)
    }

    fn probing_after(pinned_ns: u64) -> SpinPolicy {
        let mut policy = SpinPolicy::new(SpinMode::Adaptive);
        assert_eq!(
            feed(&mut policy, pinned_trip(pinned_ns), FIRST_PROBE),
            [(FIRST_PROBE - 1, Affinity::Unpin)]
        );
        // The warm-up: slow round trips and misses of both sides are not judged.
        let waking = RoundTrip {
            stub_hit: Some(false),
            sentry_hit: Some(false),
            held: 0,
            ran: 90_000,
        };
        assert!(feed(&mut policy, waking, WARMUP).is_empty());
        assert_eq!(
            policy.limits(),
            Spin {
                sentry: MAX_POLLS,
                stub: MAX_POLLS
            }
        );
        policy
    }

    #[test]
    fn fixed_limits_never_move_the_pair() {
        let spin = Spin {
            sentry: 100,
            stub: 200,
        };
        let mut policy = SpinPolicy::new(SpinMode::Fixed(spin));
        assert!(!policy.adapts());
        assert!(!policy.pinned());
        let slow = RoundTrip {
            stub_hit: Some(false),
            sentry_hit: Some(false),
            held: 0,
            ran: 1_000_000,
        };
        assert!(feed(&mut policy, slow, 10_000).is_empty());
        assert_eq!(policy.limits(), spin);
        let never = SpinPolicy::new(SpinMode::Fixed(Spin::default()));
        assert!(never.pinned());
        assert!(SpinMode::Fixed(Spin::default()).pins());
        assert!(!SpinMode::Fixed(spin).pins());
        assert!(SpinMode::Adaptive.pins());
        assert_eq!(SpinMode::Adaptive.fixed(), Spin::default());
    }

    #[test]
    fn starts_pinned_then_probes_with_the_most_polls() {
        let mut policy = SpinPolicy::new(SpinMode::Adaptive);
        assert!(policy.adapts());
        assert!(policy.pinned());
        assert_eq!(policy.limits(), Spin::default());
        assert!(feed(&mut policy, pinned_trip(3_000), FIRST_PROBE - 1).is_empty());
        assert_eq!(policy.record(pinned_trip(3_000)), Affinity::Unpin);
        assert!(!policy.pinned());
        assert_eq!(
            policy.limits(),
            Spin {
                sentry: MAX_POLLS,
                stub: MAX_POLLS
            }
        );
    }

    #[test]
    fn polling_that_pays_goes_on() {
        let mut policy = probing();
        // 1 µs against 3 µs pinned: a million round trips later it still polls.
        assert!(feed(&mut policy, HIT, 1_000_000).is_empty());
        assert_eq!(policy.limits().sentry, MAX_POLLS);
        assert!(!policy.pinned());
    }

    #[test]
    fn misses_halve_a_side_down_to_zero_and_hits_raise_it_again() {
        let mut policy = probing();
        // The application computes 2 µs between syscalls: the sentry's poll misses, the
        // stub's (the sentry answers at once) hits; each round trip is still a bit faster.
        let sentry_miss = RoundTrip {
            stub_hit: Some(true),
            sentry_hit: Some(false),
            held: 0,
            ran: 2_500,
        };
        let mut limits = vec![];
        for _ in 0..8 {
            assert_eq!(policy.record(sentry_miss), Affinity::Keep);
            limits.push(policy.limits().sentry);
        }
        assert_eq!(limits, [1024, 512, 256, 128, 64, 32, 16, 0]);
        assert_eq!(policy.limits().stub, MAX_POLLS);
        // With no sentry poll there is no sentry hit or miss; the stub side keeps polling.
        let stub_only = RoundTrip {
            sentry_hit: None,
            ..sentry_miss
        };
        assert!(feed(&mut policy, stub_only, 1000).is_empty());
        assert_eq!(policy.limits().sentry, 0);
        // A stub miss halves the stub side, a hit doubles it back.
        let stub_miss = RoundTrip {
            stub_hit: Some(false),
            sentry_hit: None,
            held: 0,
            ran: 2_000,
        };
        assert_eq!(policy.record(stub_miss), Affinity::Keep);
        assert_eq!(policy.limits().stub, MAX_POLLS / 2);
        assert_eq!(policy.record(stub_only), Affinity::Keep);
        assert_eq!(policy.limits().stub, MAX_POLLS);
    }

    #[test]
    fn both_sides_missing_pins_the_pair() {
        // Misses that cost little in time (against pinned round trips of 100 µs) still end
        // the polling once both sides reach 0.
        let mut policy = probing_after(100_000);
        let misses = RoundTrip {
            stub_hit: Some(false),
            sentry_hit: Some(false),
            held: 0,
            ran: 0,
        };
        let changes = feed(&mut policy, misses, 20);
        assert_eq!(changes, [(7, Affinity::Pin)]);
        assert!(policy.pinned());
        assert_eq!(policy.limits(), Spin::default());
    }

    #[test]
    fn slow_round_trips_while_polling_pin_the_pair_at_once() {
        // Under load a polling thread is preempted: a round trip of milliseconds.
        let mut policy = probing();
        assert!(feed(&mut policy, HIT, 100).is_empty());
        let preempted = RoundTrip {
            held: 0,
            ran: 3_000_000,
            ..HIT
        };
        assert_eq!(policy.record(preempted), Affinity::Pin);
        assert!(policy.pinned());
        assert_eq!(policy.limits(), Spin::default());
    }

    #[test]
    fn long_syscalls_cost_the_stub_side_and_a_few_pin_the_pair() {
        let mut policy = probing();
        assert!(feed(&mut policy, HIT, 1000).is_empty());
        // The sentry took 200 µs (a gofer round trip): the handler gave up polling and
        // slept; waking it on the other CPU took 50 µs.
        let after_sleep = RoundTrip {
            stub_hit: Some(false),
            sentry_hit: Some(true),
            held: 200_000,
            ran: 50_000,
        };
        assert_eq!(policy.record(after_sleep), Affinity::Keep);
        assert_eq!(policy.limits().stub, MAX_POLLS / 2);
        assert_eq!(policy.record(after_sleep), Affinity::Pin);
        assert!(policy.pinned());
    }

    #[test]
    fn failed_probes_back_off_and_paying_ones_come_sooner() {
        let mut policy = probing();
        let bad = RoundTrip {
            stub_hit: Some(false),
            sentry_hit: Some(false),
            held: 0,
            ran: 600_000,
        };
        let mut gaps = vec![];
        for _ in 0..12 {
            assert_eq!(policy.record(bad), Affinity::Pin);
            let changes = feed(&mut policy, pinned_trip(3_000), MAX_BACKOFF + WARMUP);
            let (i, unpin) = changes[0];
            assert_eq!(unpin, Affinity::Unpin);
            gaps.push(i + 1);
        }
        assert_eq!(
            gaps,
            [128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 65536, 65536]
        );
        // Probes that gained before they ended: the next ones come sooner and sooner.
        let mut gaps = vec![];
        for _ in 0..12 {
            assert!(feed(&mut policy, HIT, 1000).is_empty());
            assert_eq!(policy.record(bad), Affinity::Pin);
            let changes = feed(&mut policy, pinned_trip(3_000), MAX_BACKOFF + WARMUP);
            gaps.push(changes[0].0 + 1);
        }
        assert_eq!(
            gaps,
            [32768, 16384, 8192, 4096, 2048, 1024, 512, 256, 128, 64, 64, 64]
        );
    }

    #[test]
    fn the_pinned_average_follows_the_workload() {
        // Pinned round trips of 100 µs (the thread computes between syscalls): polling must
        // beat that, not the 3 µs of an earlier phase.
        let mut policy = probing();
        let bad = RoundTrip {
            stub_hit: Some(true),
            sentry_hit: Some(false),
            held: 0,
            ran: 1_000_000,
        };
        assert_eq!(policy.record(bad), Affinity::Pin);
        let changes = feed(&mut policy, pinned_trip(100_000), 2 * MIN_BACKOFF);
        assert_eq!(changes, [(2 * MIN_BACKOFF - 1, Affinity::Unpin)]);
        // 99 µs polled against 100 µs pinned: it gains, and goes on.
        let polled = RoundTrip {
            stub_hit: Some(true),
            sentry_hit: Some(true),
            held: 0,
            ran: 99_000,
        };
        assert!(feed(&mut policy, polled, 10_000).is_empty());
        // 110 µs: it loses 10 µs a round trip, and stops within the credit.
        let worse = RoundTrip {
            held: 0,
            ran: 110_000,
            ..polled
        };
        assert_eq!(feed(&mut policy, worse, 100), [(50, Affinity::Pin)]);
    }

    #[test]
    fn injections_slower_across_cpus_pin_the_pair() {
        // A fork loop: the sentry seizes the stub and injects every round trip (a stub miss),
        // 400 µs pinned; 700 µs once the stub sits on another CPU.
        let mut policy = SpinPolicy::new(SpinMode::Adaptive);
        let pinned_fork = RoundTrip {
            stub_hit: None,
            sentry_hit: None,
            held: 400_000,
            ran: 5_000,
        };
        assert_eq!(
            feed(&mut policy, pinned_fork, FIRST_PROBE),
            [(FIRST_PROBE - 1, Affinity::Unpin)]
        );
        let polled_fork = RoundTrip {
            stub_hit: Some(false),
            sentry_hit: Some(true),
            held: 700_000,
            ran: 1_000,
        };
        assert_eq!(
            feed(&mut policy, polled_fork, WARMUP + 2),
            [(WARMUP + 1, Affinity::Pin)]
        );
        // It lost: the next probe waits twice as long.
        let changes = feed(&mut policy, pinned_fork, 4 * MIN_BACKOFF);
        assert_eq!(changes, [(2 * MIN_BACKOFF - 1, Affinity::Unpin)]);
        // A thread that blocks for seconds counts its sentry time up to a millisecond.
        let mut policy = probing();
        assert!(feed(&mut policy, HIT, 1000).is_empty());
        let slept = RoundTrip {
            stub_hit: Some(false),
            sentry_hit: Some(true),
            held: 5_000_000_000,
            ran: 1_000,
        };
        assert_eq!(policy.record(slept), Affinity::Pin);
        let changes = feed(&mut policy, pinned_trip(3_000), 4 * MIN_BACKOFF);
        assert_eq!(changes, [(MIN_BACKOFF - 1, Affinity::Unpin)], "it gained");
    }

    #[test]
    fn polls_are_bounded() {
        let mut policy = probing();
        assert!(feed(&mut policy, HIT, 100).is_empty());
        let limits = policy.limits();
        assert!(limits.sentry <= MAX_POLLS && limits.stub <= MAX_POLLS);
        assert_eq!(adjust(MAX_POLLS, Some(true)), MAX_POLLS);
        assert_eq!(adjust(u32::MAX, Some(true)), MAX_POLLS);
        assert_eq!(adjust(MIN_POLLS, Some(false)), 0);
        assert_eq!(adjust(0, None), 0);
    }
}
