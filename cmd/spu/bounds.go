package main

import (
	"time"
)

// Bounds on flags whose size is limited physically or by memory. A value
// beyond them is taken as a mistake (units, a stray zero) and refused with
// the bound and its reason, before anything runs.
const (
	// maxBoardTaus bounds each board time a command is asked to spend
	// (burn-in, sampling), in units of the board's τ: 10⁷ τ is 1000 s on a
	// 100 µs board. A burn-in needs a few relaxation times and error bars
	// shrink only as 1/√time, so no result needs more.
	maxBoardTaus = 1e7
	// maxBatches bounds solve --batches: the error bar's own relative
	// error is 1/√(2(B−1)), 0.7 % at 10⁴ batches; more only cost memory
	// (n values per batch) and board time (each batch spans many
	// relaxation times).
	maxBatches = 10_000
	// maxChunkBytes bounds the samples spu sample holds at once.
	maxChunkBytes = 32 << 20
	// maxTrainIterations bounds spu train's iterations: 10⁷ is 10⁴ epochs
	// of 60,000 images in batches of 64, where the paper's run takes 1560.
	maxTrainIterations = 10_000_000
	// iterationsReason is the reason for maxTrainIterations, for messages.
	iterationsReason = "10⁴ epochs of all 60,000 images at batch 64; the paper's run is 1560"
	// maxEvaluations bounds the test-set evaluations of a run: every
	// checkpoint and the --json summary hold the whole history, so their
	// total cost grows with its square.
	maxEvaluations = 100_000
	// maxParams bounds the MLP's parameters: θ, its gradient and the
	// optimizer's state are each a float64 per parameter (32 bytes per
	// parameter for Adam: 320 MB at the bound).
	maxParams = 10_000_000
	// maxAnalogTaus bounds train --t and --delay per iteration: the
	// curvature solve relaxes in about 1/λ τ (100 τ at the default
	// λ = 0.01), and a simulated board spends wall time on every τ.
	maxAnalogTaus = 1e6
	// analogReason is the bound maxAnalogTaus and its reason, for messages.
	analogReason = "10⁶ τ per iteration (the curvature solve relaxes in about 1/λ τ, 100 τ at λ = 0.01, and a simulated board spends wall time on every τ)"
	// maxWindowBytes bounds the samples of train --window held at once.
	maxWindowBytes = 1 << 30
)

// checkBoardTime refuses a board time of ns nanoseconds (what names it, as
// given) above maxBoardTaus on a board with time constant tau. ns is a
// float64 so that a product such as --n × --period cannot overflow.
func checkBoardTime(what string, ns float64, tau time.Duration) error {
	if tau <= 0 || ns <= maxBoardTaus*float64(tau) {
		return nil
	}
	return usagef("%s is %.3g τ on this board (τ = %v): at most 10⁷ τ (%v here): a burn-in needs a few relaxation times and error bars shrink only as 1/√time, so longer is taken as a mistake in units",
		what, ns/float64(tau), tau, time.Duration(maxBoardTaus*float64(tau)).Round(time.Second))
}

// sampleRows is how many samples of k cells spu sample reads per call:
// sampleChunk, or fewer so that they fit in maxChunkBytes.
func sampleRows(n, k int) int {
	return max(1, min(n, sampleChunk, maxChunkBytes/(8*max(k, 1))))
}

// checkTrainSize refuses runs whose length or model exceed the bounds.
func checkTrainSize(total, evalEvery, params int) error {
	switch {
	case total > maxTrainIterations:
		return usagef("%d iterations (--epochs × iterations per epoch, or --iterations): at most %d (%s)",
			total, maxTrainIterations, iterationsReason)
	case evalEvery > 0 && total/evalEvery > maxEvaluations:
		return usagef("--eval-every %d over %d iterations is %d evaluations: at most %d (every checkpoint and the summary hold the whole history); evaluate less often",
			evalEvery, total, total/evalEvery, maxEvaluations)
	case params > maxParams:
		return usagef("--hidden: the model has %d parameters: at most %d (θ, its gradient and the optimizer's state take 16–32 bytes per parameter)",
			params, maxParams)
	}
	return nil
}
