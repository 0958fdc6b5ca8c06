"""Push notifications: webhook delivery (:mod:`.webhook`), what to notify (:mod:`.events`) and the
per-key claim that lets exactly one service send each notification (:mod:`.claims`)."""
