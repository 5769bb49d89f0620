"""WebShop (Yao et al. 2022): catalog, goals, search, exact reward, text env, web site and browser env."""
