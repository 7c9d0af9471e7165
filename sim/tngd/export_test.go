package tngd

// For the external tests (dense_test.go), which import package sim.
var (
	SmallFact     = smallTNGD
	DenseA        = tngdDenseA
	RandVec       = randVec
	RunFrom       = runFrom
	IdealBoard    = idealTNGD
	MaxAbsDiffVec = maxAbsDiffVec
)
