"""Studies: the paper's figures and tables beyond Table 2, our own studies and the speed bench."""
