package selftest

// minFilterHz is the lowest −3 dB corner the force check allows for a
// second-order Butterworth anti-aliasing filter between a node and its ADC
// reading. The AD7606 has such a filter on chip (Rev. C, "Second-order
// antialiasing analog filter" among the features; its corner is 15 kHz
// typical in the ±5 V range and 23 kHz in the ±10 V range as
// docs/profiles.md gives them from p. 22, not confirmed from the data
// sheet's text). Its 18-bit sibling the AD7609 states it as
// second-order Butterworth with −3 dB at 23.4/32.4 kHz at 25 °C, falling
// 3.3 % by 85 °C (Rev. A, p. 22, Figure 35). 12 kHz is 15 kHz less 20 % for
// part spread and temperature. A board without a filter is the limit
// f → ∞ and passes the same check.
const minFilterHz = 12e3
