# Writes the np.savetxt fixtures of TestNumpyFiles (cmd/spu/csv_test.go):
#   cd cmd/spu/testdata/numpy && /usr/bin/python3 gen.py
# Generated with numpy 1.24.2 (Debian 12 python3-numpy).
import numpy as np

A = np.array([[4.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 2.0]]) / 3  # SPD; /3: not exact in binary
b = np.array([1.0, -2.0, 0.5]) / 7

np.savetxt("a_default.txt", A)                      # np.savetxt's default: ' ', '%.18e'
np.savetxt("b_default.txt", b)                      # a column
np.savetxt("a_tab.tsv", A, delimiter="\t")
np.savetxt("a_semicolon.csv", A, delimiter=";")
np.savetxt("a_header.csv", A, delimiter=",", header="x0,x1,x2", comments="")  # a bare header row
np.savetxt("a_comment_header.txt", A, header="A, 3x3")                       # '# A, 3x3'
np.savetxt("b_row.csv", b[None, :], delimiter=",", fmt="%.17g")
np.savetxt("a_fmt_g.csv", A, delimiter=", ", fmt="%.17g")
np.savetxt("ref.txt", np.concatenate([A.ravel(), b]), fmt="%.17g")  # 12 values, one per line, '%.17g' round-trips
