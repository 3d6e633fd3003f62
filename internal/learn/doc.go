// Package learn holds hakmem's learning decisions, apart from the engine
// that applies them. It imports nothing of the engine: the engine hands it
// values (a closed window's measures, a window's per-class miss counts,
// the size classes' sizes) and gets decisions back.
//
//   - Machine: one site's LEARN / FROZEN / CANARY lifecycle, stepped once
//     per closed window (Step(window) -> Decision): which routing
//     threshold and BigCache arm run next, and the transitions taken.
//   - Strategy, EloUpdate, CompositeScore: the arms' ELO ratings and the
//     tie-breaking composite score.
//   - Hist, TVD, TVDNoise, Sizes.Equivalent: size histograms and their
//     distances.
//   - CapState: the per-class per-P cache capacity learner's arithmetic.
//   - Settings, Defaults, Options: the knobs, with their defaults declared
//     once, as the rows the engine's option table takes.
//
// The engine's side (sampling, windows, the learner goroutine, applying
// and logging decisions, policy files) is the learn_* files of package
// hakmem.
package learn
