//go:build race

package rdb

// raceEnabled makes the heaviest table tests sample fewer inputs: the race
// detector slows decoding about tenfold, and the same code paths run in
// every mode anyway.
const raceEnabled = true
