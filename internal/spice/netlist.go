// Package spice writes netlists of the SPU's cell circuit, runs ngspice on
// them in batch mode and reads the node voltages back, so that tests can
// hold the simulator against an independent circuit simulator. It also
// holds the closed forms of ngspice's transient-noise source (trnoise.go)
// that such a comparison needs. Nothing here imports the simulator.
package spice

import (
	"fmt"
	"math"
	"strings"
)

// Circuit is the cell network as a circuit: node i (1-based "n<i>" in the
// netlist) has a grounded capacitor C_i and obeys
//
//	C_i dv_i/dt = −Σ_j G_ij v_j + I_i + i_n,i(t)
//
// The couplings are voltage-controlled current sources (a general,
// possibly non-symmetric G, as the board's op-amp cells realise it); the
// noise current i_n,i is an ngspice trnoise source.
type Circuit struct {
	// C holds the node capacitances in farads; its length is the node count.
	C []float64
	// G is the K × K row-major coupling in siemens: node i sinks Σ_j G_ij v_j.
	G []float64
	// I holds the bias current into each node in amperes (nil: none).
	I []float64
	// NoiseA holds each node's trnoise amplitude NA in amperes rms (nil or
	// 0: no noise source), sampled every NT seconds.
	NoiseA []float64
	NT     float64
	// Rail, if > 0, clamps every node at ±Rail volts with a behavioural
	// limiter (a B source sinking RailG·(v − Rail) above the rail), the
	// op-amp output stage at its supply.
	Rail, RailG float64
	// X0 holds the initial node voltages (nil: zero).
	X0 []float64
	// Filters read nodes through second-order low-pass filters.
	Filters []Filter
}

// Filter is a unity-gain Sallen–Key low-pass filter behind a unity buffer
// reading node Node (0-based); its output is netlist node "f<k>" for the
// k-th filter (1-based). Transfer function ω₀²/(s² + (ω₀/Q)s + ω₀²) with
// ω₀ = 1/sqrt(R1 R2 C1 C2), Q = sqrt(R1 R2 C1 C2)/(C2 (R1 + R2)), C1 the
// feedback capacitor.
type Filter struct {
	Node           int
	R1, R2, C1, C2 float64
}

// K returns the number of nodes.
func (c *Circuit) K() int { return len(c.C) }

// Validate checks the shapes and that every value is finite and physical.
func (c *Circuit) Validate() error {
	k := c.K()
	if k == 0 {
		return fmt.Errorf("circuit: no nodes")
	}
	if len(c.G) != k*k {
		return fmt.Errorf("circuit: G has %d entries, want %d×%d", len(c.G), k, k)
	}
	for name, v := range map[string][]float64{"I": c.I, "NoiseA": c.NoiseA, "X0": c.X0} {
		if v != nil && len(v) != k {
			return fmt.Errorf("circuit: %s has %d entries, want %d (or none)", name, len(v), k)
		}
	}
	for i, v := range c.C {
		if !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("circuit: C[%d] = %g F, want finite > 0", i, v)
		}
	}
	noise := false
	for _, v := range c.NoiseA {
		noise = noise || v != 0
	}
	if noise && !(c.NT > 0) {
		return fmt.Errorf("circuit: noise sources need NT > 0 s, have %g", c.NT)
	}
	if c.Rail < 0 || (c.Rail > 0 && !(c.RailG > 0)) {
		return fmt.Errorf("circuit: rail %g V with limiter %g S: want rail ≥ 0 and, with a rail, a limiter > 0 S", c.Rail, c.RailG)
	}
	for n, f := range c.Filters {
		if f.Node < 0 || f.Node >= k || !(f.R1 > 0 && f.R2 > 0 && f.C1 > 0 && f.C2 > 0) {
			return fmt.Errorf("circuit: filter %d reads node %d (want 0…%d) with R1 %g, R2 %g, C1 %g, C2 %g (want > 0)", n, f.Node, k-1, f.R1, f.R2, f.C1, f.C2)
		}
	}
	return nil
}

// Transient is one transient-noise run: a step (also the output grid,
// linearised onto multiples of Step) up to Stop, with seed (1…MaxSeed)
// for ngspice's noise generator and its process id (see Run).
type Transient struct {
	Step, Stop float64
	Seed       int
}

// Vectors returns the output vectors of a run, in column order: the node
// voltages v(n1)…v(nK), then the filter outputs v(f1)….
func (c *Circuit) Vectors() []string {
	var v []string
	for i := range c.K() {
		v = append(v, fmt.Sprintf("v(n%d)", i+1))
	}
	for n := range c.Filters {
		v = append(v, fmt.Sprintf("v(f%d)", n+1))
	}
	return v
}

// Netlist returns the ngspice input for a transient run of c that writes
// the vectors of c.Vectors to the ASCII file out (wrdata, one time column).
func (c *Circuit) Netlist(tr Transient, out string) (string, error) {
	if err := c.Validate(); err != nil {
		return "", err
	}
	if !(tr.Step > 0) || !(tr.Stop > tr.Step) || tr.Seed <= 0 || tr.Seed > MaxSeed {
		return "", fmt.Errorf("transient: step %g s, stop %g s, seed %d: want 0 < step < stop, seed 1…%d", tr.Step, tr.Stop, tr.Seed, MaxSeed)
	}
	var b strings.Builder
	k := c.K()
	fmt.Fprintf(&b, "* spukit cell network, %d nodes\n", k)
	for i := range k {
		x0 := 0.0
		if c.X0 != nil {
			x0 = c.X0[i]
		}
		fmt.Fprintf(&b, "C%d n%d 0 %.12g ic=%.12g\n", i+1, i+1, c.C[i], x0)
		for j := range k {
			if g := c.G[i*k+j]; g != 0 {
				fmt.Fprintf(&b, "G%d_%d n%d 0 n%d 0 %.12g\n", i+1, j+1, i+1, j+1, g)
			}
		}
		if c.I != nil && c.I[i] != 0 {
			fmt.Fprintf(&b, "IB%d 0 n%d dc %.12g\n", i+1, i+1, c.I[i])
		}
		if c.NoiseA != nil && c.NoiseA[i] != 0 {
			fmt.Fprintf(&b, "IN%d 0 n%d dc 0 trnoise(%.12g %.12g 0 0)\n", i+1, i+1, c.NoiseA[i], c.NT)
		}
		if c.Rail > 0 {
			fmt.Fprintf(&b, "BR%d n%d 0 I = %.12g*(max(V(n%d)-%.12g,0)+min(V(n%d)+%.12g,0))\n",
				i+1, i+1, c.RailG, i+1, c.Rail, i+1, c.Rail)
		}
	}
	for n, f := range c.Filters {
		m := n + 1
		fmt.Fprintf(&b, "EF%d fi%d 0 n%d 0 1\n", m, m, f.Node+1)
		fmt.Fprintf(&b, "RF%da fi%d fa%d %.12g\nRF%db fa%d fb%d %.12g\n", m, m, m, f.R1, m, m, m, f.R2)
		fmt.Fprintf(&b, "CF%da fa%d f%d %.12g\nCF%db fb%d 0 %.12g\n", m, m, m, f.C1, m, m, f.C2)
		fmt.Fprintf(&b, "EO%d f%d 0 fb%d 0 1\n", m, m, m)
	}
	vecs := strings.Join(c.Vectors(), " ")
	// Gear integration is L-stable: the stiff limiter (time constant
	// C/RailG, far below the step) does not ring as under trapezoidal.
	b.WriteString(".options method=gear\n.control\n")
	fmt.Fprintf(&b, "setseed %d\nset wr_singlescale\nset wr_vecnames\n", tr.Seed)
	fmt.Fprintf(&b, "tran %.12g %.12g 0 %.12g uic\n", tr.Step, tr.Stop, tr.Step)
	fmt.Fprintf(&b, "linearize %s\nwrdata %s %s\nquit 0\n.endc\n.end\n", vecs, out, vecs)
	return b.String(), nil
}
