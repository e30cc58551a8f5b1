"""How good a model is: held-out likelihood, n-gram and frame floors, music metrics, the JSB benchmark."""
