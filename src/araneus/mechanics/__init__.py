"""Virtual mechanical testing: linear frame/truss FE and nonlinear silk/polymer truss analysis."""
