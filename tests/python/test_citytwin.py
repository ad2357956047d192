"""Tests of the Python module `citytwin` (docs/python.md), with unittest.

References are independent of the module: GDAL's own Python bindings reading the sample town's
files and the GeoTIFFs that the `citytwin run` CLI wrote for the same scenario.

Environment (set by tests/CMakeLists.txt): PYTHONPATH with the built module, CITYTWIN_BINARY
(the CLI), CITYTWIN_SOURCE_DIR (the checkout).
"""
import json
import os
import subprocess
import tempfile
import unittest

import numpy as np

import citytwin

try:
    from osgeo import gdal, ogr

    gdal.UseExceptions()
except ImportError:  # python3-gdal missing: the GDAL comparisons are skipped
    gdal = ogr = None

SOURCE = os.environ.get("CITYTWIN_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("CITYTWIN_BINARY", os.path.join(SOURCE, "build", "citytwin"))
ASSETS = os.path.abspath(os.path.join(SOURCE, "assets", "musterstadt"))
MUSTERSTADT = os.path.join(SOURCE, "scenarios", "musterstadt.yaml")
HEAVY_RAIN = os.path.join(SOURCE, "scenarios", "musterstadt-heavy-rain.yaml")


def run_cli(*args):
    env = dict(os.environ, CITYTWIN_CACHE_DIR="")  # no cache: the CLI imports like the module
    return subprocess.run([BINARY, "--no-cache", *args], capture_output=True, text=True, env=env)


def read_tif(path):
    """Band 1 as float32 with nodata as NaN, geotransform and EPSG code, read by GDAL itself."""
    ds = gdal.Open(path)
    band = ds.GetRasterBand(1)
    values = band.ReadAsArray()
    nodata = band.GetNoDataValue()
    if nodata is not None and not np.isnan(nodata):
        values = np.where(values == np.float32(nodata), np.float32(np.nan), values)
    return values, ds.GetGeoTransform(), "EPSG:" + ds.GetSpatialRef().GetAuthorityCode(None)


def small_flood_yaml(folder, duration="10min", edits=True):
    """The heavy-rain scenario, shorter and coarser so it runs in seconds, with absolute paths."""
    with open(HEAVY_RAIN) as f:
        text = f.read()
    text = text.replace("../assets/musterstadt", ASSETS)
    text = text.replace("duration: 75min", f"duration: {duration}")
    text = text.replace("cell_size: 4", "cell_size: 8")
    text = text.replace("snapshot_interval: 15min", "snapshot_interval: 5min")
    text = text.replace("../out/musterstadt-heavy-rain", os.path.join(folder, "out-default"))
    if not edits:
        text = text[: text.index("edits:")] + text[text.index("outputs:"):]
    path = os.path.join(folder, "small.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


class LoadCity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.city = citytwin.load_city(MUSTERSTADT)

    def test_frame(self):
        self.assertEqual(self.city.crs, "EPSG:25832")
        self.assertEqual(len(self.city.origin), 2)

    @unittest.skipIf(ogr is None, "python3-gdal not installed")
    def test_buildings_match_the_geopackage(self):
        ds = ogr.Open(os.path.join(ASSETS, "buildings.gpkg"))  # keep: the layer dies with it
        layer = ds.GetLayer(0)
        b = self.city.buildings
        self.assertEqual(len(b["id"]), layer.GetFeatureCount())
        for key in ("height", "ground", "levels", "year", "use", "footprint_area", "centroid_x", "centroid_y"):
            self.assertEqual(len(b[key]), layer.GetFeatureCount(), key)
        self.assertEqual(b["height"].dtype, np.float32)
        # Heights and levels as the file has them, feature by feature (matched by id).
        index = {id_: i for i, id_ in enumerate(b["id"])}
        for feature in layer:
            i = index[feature["id"]]
            self.assertAlmostEqual(float(b["height"][i]), feature["height"], places=4)
            self.assertEqual(int(b["levels"][i]), feature["levels"])
            self.assertEqual(int(b["year"][i]), feature["year_built"])
            # The source attributes, as the file has them (text).
            self.assertEqual(b["attributes"]["use"][i], feature["use"])
            self.assertEqual(b["attributes"]["id"][i], feature["id"])
            # The footprint's outer ring in the CRS: same area (shoelace) as OGR's outer ring;
            # the footprint area (holes subtracted) as OGR's polygon area.
            if i % 250 == 0:
                ring = self.city.footprint(i)
                x, y = ring[:, 0] - ring[0, 0], ring[:, 1] - ring[0, 1]  # small numbers: exact shoelace
                area = 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
                geom = feature.GetGeometryRef()
                polygon = geom.GetGeometryRef(0) if geom.GetGeometryCount() and geom.GetGeometryName() == "MULTIPOLYGON" else geom
                outer = polygon.GetGeometryRef(0).GetArea()
                self.assertAlmostEqual(area, outer, delta=1e-6 * outer + 1e-3)
                self.assertAlmostEqual(float(b["footprint_area"][i]), geom.GetArea(), delta=1e-3 * geom.GetArea())
                c = geom.Centroid()
                self.assertAlmostEqual(float(b["centroid_x"][i]), c.GetX(), delta=0.01)
                self.assertAlmostEqual(float(b["centroid_y"][i]), c.GetY(), delta=0.01)

    @unittest.skipIf(gdal is None, "python3-gdal not installed")
    def test_terrain_matches_the_geotiff(self):
        values, gt, epsg = read_tif(os.path.join(ASSETS, "terrain.tif"))
        t = self.city.terrain
        self.assertEqual(t.values.shape, values.shape)
        self.assertEqual(t.values.dtype, np.float32)
        for a, b in zip(t.geotransform, gt):
            self.assertAlmostEqual(a, b, places=6)
        self.assertEqual(t.crs, epsg)
        self.assertEqual(t.cell_size, gt[1])
        self.assertTrue(np.array_equal(t.values, values, equal_nan=True))

    def test_terrain_is_a_view_that_outlives_the_city(self):
        city = citytwin.load_city(MUSTERSTADT)
        a, b = city.terrain.values, city.terrain.values
        self.assertTrue(np.shares_memory(a, b))  # no copy: both look at the C++ grid
        self.assertIsNotNone(a.base)
        self.assertFalse(a.flags.writeable)
        expected = a.copy()
        del city, b
        import gc

        gc.collect()
        self.assertTrue(np.array_equal(a, expected, equal_nan=True))

    @unittest.skipIf(ogr is None, "python3-gdal not installed")
    def test_roads(self):
        r = self.city.roads
        n = len(r["from"])
        self.assertGreater(n, 0)
        for key in ("to", "length", "speed", "lanes", "road_class", "name"):
            self.assertEqual(len(r[key]), n, key)
        self.assertLess(int(np.max(r["from"])), len(r["node_x"]))
        # Every edge's length is at least the straight line between its end nodes.
        dx = r["node_x"][r["to"]] - r["node_x"][r["from"]]
        dy = r["node_y"][r["to"]] - r["node_y"][r["from"]]
        self.assertTrue(np.all(r["length"] + 1e-3 >= np.hypot(dx, dy)))
        # Nodes lie inside the roads layer's extent as OGR gives it.
        ds = ogr.Open(os.path.join(ASSETS, "roads.gpkg"))
        minx, maxx, miny, maxy = ds.GetLayer(0).GetExtent()
        self.assertTrue(np.all((r["node_x"] >= minx - 1e-6) & (r["node_x"] <= maxx + 1e-6)))
        self.assertTrue(np.all((r["node_y"] >= miny - 1e-6) & (r["node_y"] <= maxy + 1e-6)))


@unittest.skipIf(gdal is None, "python3-gdal not installed")
class RunAgainstCli(unittest.TestCase):
    """The same small scenario run from Python and by `citytwin run`: identical results."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.yaml = small_flood_yaml(cls.tmp.name)
        cls.cli_out = os.path.join(cls.tmp.name, "cli")
        cli = run_cli("run", cls.yaml, "--out", cls.cli_out, "--quiet")
        assert cli.returncode == 0, cli.stderr
        cls.scenario = citytwin.Scenario.from_yaml(cls.yaml)
        cls.results = cls.scenario.run(out=os.path.join(cls.tmp.name, "py"), threads=2)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_scenario_properties(self):
        self.assertEqual(self.scenario.name, "musterstadt-heavy-rain")
        self.assertEqual(self.scenario.duration_s, 600)
        self.assertEqual(self.scenario.modules, ["flood"])

    def test_kpis_equal_the_cli(self):
        with open(os.path.join(self.cli_out, "kpis.json")) as f:
            cli = json.load(f)
        self.assertEqual(self.results.kpis, cli)
        self.assertEqual(self.results.compare, cli["difference"])
        self.assertGreater(self.results.kpis["baseline"]["flood"]["max_depth"]["value"], 0)

    def test_grids_equal_the_cli_geotiffs(self):
        for which, flood in (("baseline", self.results.flood), ("variant", self.results.flood_variant)):
            for name in ("max_depth", "max_velocity", "max_hazard", "arrival_time"):
                values, gt, epsg = read_tif(os.path.join(self.cli_out, which, "flood", name + ".tif"))
                grid = getattr(flood, name)
                self.assertEqual(grid.values.dtype, np.float32)
                self.assertEqual(grid.values.shape, values.shape)
                self.assertTrue(np.array_equal(grid.values, values, equal_nan=True), f"{which} {name}")
                self.assertEqual(grid.geotransform, gt)
                self.assertEqual(grid.crs, epsg)
                self.assertEqual(grid.cell_size, 8)

    def test_gauges_equal_the_cli_csv(self):
        cli = np.genfromtxt(os.path.join(self.cli_out, "baseline", "flood", "gauges.csv"), delimiter=",", names=True)
        gauges = self.results.flood.gauges
        self.assertEqual(list(gauges), list(cli.dtype.names))
        for name in cli.dtype.names:
            self.assertTrue(np.array_equal(gauges[name], cli[name], equal_nan=True), name)

    def test_to_dict_round_trip(self):
        d = self.scenario.to_dict()
        self.assertEqual(d["modules"]["flood"]["losses"]["drainage_mm_h"], 20)
        self.assertEqual(d["seed"], 20261121)
        self.assertEqual(d["time"]["duration"], "10min")
        again = citytwin.Scenario.from_dict(d)
        self.assertEqual(again.to_dict(), d)
        self.assertEqual(again.duration_s, 600)
        d["time"]["duration"] = 120
        self.assertEqual(citytwin.Scenario.from_dict(d).duration_s, 120)


class StepWise(unittest.TestCase):
    def test_four_steps_equal_a_whole_run(self):
        with tempfile.TemporaryDirectory() as tmp:
            scenario = citytwin.Scenario.from_yaml(small_flood_yaml(tmp, edits=False))
            whole = scenario.run(out=os.path.join(tmp, "whole"))
            sim = scenario.start(threads=1)
            self.assertEqual(sim.time, 0)
            for k in range(4):
                sim.step(scenario.duration_s / 4)
                self.assertEqual(sim.time, scenario.duration_s * (k + 1) / 4)
                depth = sim.snapshot()["Water depth"]
                self.assertEqual(depth.values.dtype, np.float32)
                self.assertEqual(depth.values.shape, whole.flood.max_depth.values.shape)
                self.assertEqual(depth.geotransform, whole.flood.max_depth.geotransform)
            self.assertTrue(sim.finished)
            kpis = sim.write_outputs(os.path.join(tmp, "stepped"))
            self.assertEqual(kpis, whole.kpis["baseline"])
            if gdal is not None:
                stepped, _, _ = read_tif(os.path.join(tmp, "stepped", "flood", "max_depth.tif"))
                self.assertTrue(np.array_equal(stepped, whole.flood.max_depth.values, equal_nan=True))
            # The last snapshot's depth never exceeds the maximum depth (walls are NaN in both).
            last = sim.snapshot()["Water depth"].values
            m = whole.flood.max_depth.values
            ok = np.isnan(m) | (last <= m + 1e-6)
            self.assertTrue(np.all(ok))


    def test_an_edit_made_while_running(self):
        # The scenario's edit (double sewer capacity in the old town) given to a running
        # baseline at t = 0 gives exactly the variant of a whole run; given halfway, the
        # flooding lies between baseline and variant (more drainage for half the time).
        with tempfile.TemporaryDirectory() as tmp:
            whole = citytwin.Scenario.from_yaml(small_flood_yaml(tmp, duration="20min")).run(out=os.path.join(tmp, "whole"))
            edit = citytwin.Scenario.from_yaml(small_flood_yaml(tmp, duration="20min")).to_dict()["edits"][0]
            plain = citytwin.Scenario.from_yaml(small_flood_yaml(tmp, duration="20min", edits=False))

            at_start = plain.start(threads=1)
            at_start.apply_edit(edit)
            at_start.step(plain.duration_s)
            self.assertEqual(at_start.write_outputs(os.path.join(tmp, "at-start")), whole.kpis["variant"])

            halfway = plain.start(threads=1)
            halfway.step(plain.duration_s / 2)
            halfway.apply_edit(edit)
            halfway.step(plain.duration_s / 2)
            mid = halfway.write_outputs(os.path.join(tmp, "halfway"))["flood"]
            base, variant = whole.kpis["baseline"]["flood"], whole.kpis["variant"]["flood"]
            for kpi in ("loss_volume", "flooded_area"):
                lo, hi = sorted((base[kpi]["value"], variant[kpi]["value"]))
                self.assertGreaterEqual(mid[kpi]["value"], lo, kpi)
                self.assertLessEqual(mid[kpi]["value"], hi, kpi)
            self.assertNotEqual(mid["loss_volume"]["value"], base["loss_volume"]["value"])

            with self.assertRaises(citytwin.InputError):
                halfway.apply_edit({"type": "teleport"})


class BadInput(unittest.TestCase):
    def test_missing_scenario_file(self):
        missing = os.path.join(tempfile.gettempdir(), "no-such-scenario-3f9a.yaml")
        with self.assertRaises(citytwin.InputError) as e:
            citytwin.Scenario.from_yaml(missing)
        self.assertIn(missing, str(e.exception))
        self.assertIsInstance(e.exception, ValueError)

    def test_missing_gis_file(self):
        with self.assertRaises(citytwin.InputError) as e:
            citytwin.load_city("/nonexistent/town.gpkg")
        self.assertIn("/nonexistent/town.gpkg", str(e.exception))

    def test_unknown_key_names_file_and_line_like_the_cli(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "typo.yaml")
            with open(path, "w") as f:
                f.write(f"name: typo\ncity:\n  buildngs: {ASSETS}/buildings.gpkg\n")
            with self.assertRaises(citytwin.InputError) as e:
                citytwin.Scenario.from_yaml(path)
            message = str(e.exception)
            self.assertIn(f"{path}:3", message)
            self.assertIn("buildngs", message)
            cli = run_cli("run", path)
            self.assertEqual(cli.returncode, 2)
            self.assertEqual(cli.stderr.strip(), "error: " + message)

    def test_missing_file_in_a_scenario_names_it(self):
        with self.assertRaises(citytwin.InputError) as e:
            citytwin.Scenario.from_dict({"name": "x", "city": {"terrain": "/nonexistent/dem.tif"}})
        self.assertIn("/nonexistent/dem.tif", str(e.exception))

    def test_wrong_python_value(self):
        with self.assertRaises(TypeError):
            citytwin.Scenario.from_dict({"name": "x", "city": {"terrain": object()}})


if __name__ == "__main__":
    unittest.main()
