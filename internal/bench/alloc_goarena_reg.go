package bench

func init() {
	register("goarena", "goarena: Go's arena experiment, one arena.Arena per request (arena scenario only; needs GOEXPERIMENT=arenas)", false, newGoArena)
	ownedKinds["goarena"] = []Kind{KindArena}
}
