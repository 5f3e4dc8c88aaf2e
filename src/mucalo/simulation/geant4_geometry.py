"""The calorimeter in Geant4: volumes, cell scoring, the exit monitor and the magnetic field.

Geometry (SYSTEM.md "Detector"): one homogeneous block of ``detector.material``, cut by three nested
``G4PVReplica`` levels into layers (z), rows (x) and cells (y). A ``G4MultiFunctionalDetector`` with a
``G4PSEnergyDeposit3D`` on the cell volume scores the deposits per event in C++, indexed by the replica
numbers (layer, ix, iy) as ``(layer·n_x + ix)·n_y + iy``: mucalo's flat cell index. The world is vacuum
only 1 mm wider than the block and ``upstream_mm`` longer at each end (electrons looping in 2 T in a
large vacuum world cost seconds), and the whole world sits in a uniform field along +y set on the
global field manager (a field manager attached to a logical volume from Python segfaults at exit).

Geant4 places the block centred at the origin, so a mucalo z (front face at 0) is ``z − depth/2`` there.
Every function imports Geant4 lazily through :func:`mucalo.simulation.geant4_data.import_geant4`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from mucalo.detector import Detector
from mucalo.errors import ConfigError
from mucalo.simulation.geant4_data import import_geant4

__all__ = [
    "SCORER_COLLECTION",
    "CalorimeterVolumes",
    "build_calorimeter",
    "locate_cells",
    "make_detector_construction",
    "to_geant4_z",
]

#: Hits-collection name of the per-cell energy deposit (G4MultiFunctionalDetector "calorimeter").
SCORER_COLLECTION = "calorimeter/energy_deposit"
#: Lateral vacuum gap between the block and the world boundary, mm.
WORLD_MARGIN_MM = 1.0


@dataclass(slots=True)
class CalorimeterVolumes:
    """The Geant4 volumes of one calorimeter."""

    world: Any  # G4PVPlacement of the world (what DetectorConstruction.Construct returns)
    world_volume: Any  # G4LogicalVolume of the world (holds the exit monitor)
    cell_volume: Any  # G4LogicalVolume of one replica cell (holds the scorer)
    upstream_mm: float  # vacuum before the front face (and after the back face), mm
    # Solids, logical volumes and placements: Geant4 keeps raw pointers, Python must keep the objects.
    keep: list[Any] = field(default_factory=list)


def to_geant4_z(detector: Detector, z_mm: float) -> float:
    """Geant4 z (block centred at 0) of a mucalo z (front face at 0), mm."""
    return z_mm - 0.5 * detector.depth_mm


def build_calorimeter(detector: Detector, *, upstream_mm: float = 60.0) -> CalorimeterVolumes:
    """Build the world, the block and the replica cells in Geant4 (needs no data set).

    Args:
        detector: the geometry.
        upstream_mm: vacuum length before the front face and after the back face, mm; the gun must lie
            inside it.

    Raises:
        ConfigError: unknown material or a non-positive ``upstream_mm``.
    """
    if not upstream_mm > 0:
        msg = f"upstream_mm: expected a positive length, got {upstream_mm}"
        raise ConfigError(msg)
    g4 = import_geant4()
    nist = g4.G4NistManager.Instance()
    material = nist.FindOrBuildMaterial(detector.material)
    if material is None:
        msg = f"detector.material: expected a Geant4 NIST material (e.g. G4_PbWO4), got {detector.material!r}"
        raise ConfigError(msg)
    vacuum = nist.FindOrBuildMaterial("G4_Galactic")
    half_x, half_y = 0.5 * detector.width_x_mm, 0.5 * detector.width_y_mm
    half_z, pitch, depth = 0.5 * detector.depth_mm, detector.cell_size_mm, detector.layer_depth_mm

    world_box = g4.G4Box("World", half_x + WORLD_MARGIN_MM, half_y + WORLD_MARGIN_MM, half_z + upstream_mm)
    world_lv = g4.G4LogicalVolume(world_box, vacuum, "World")
    world = g4.G4PVPlacement(None, g4.G4ThreeVector(), world_lv, "World", None, False, 0)
    block_box = g4.G4Box("Calorimeter", half_x, half_y, half_z)
    block_lv = g4.G4LogicalVolume(block_box, material, "Calorimeter")
    block = g4.G4PVPlacement(None, g4.G4ThreeVector(), block_lv, "Calorimeter", world_lv, False, 0)
    # Replica copy numbers are the indices: layer (depth 2), ix (depth 1), iy (depth 0 = the cell).
    layer_box = g4.G4Box("Layer", half_x, half_y, 0.5 * depth)
    layer_lv = g4.G4LogicalVolume(layer_box, material, "Layer")
    layers = g4.G4PVReplica("Layer", layer_lv, block_lv, g4.kZAxis, detector.n_layers, depth)
    row_box = g4.G4Box("Row", 0.5 * pitch, half_y, 0.5 * depth)
    row_lv = g4.G4LogicalVolume(row_box, material, "Row")
    rows = g4.G4PVReplica("Row", row_lv, layer_lv, g4.kXAxis, detector.n_cells_x, pitch)
    cell_box = g4.G4Box("Cell", 0.5 * pitch, 0.5 * pitch, 0.5 * depth)
    cell_lv = g4.G4LogicalVolume(cell_box, material, "Cell")
    cells = g4.G4PVReplica("Cell", cell_lv, row_lv, g4.kYAxis, detector.n_cells_y, pitch)
    keep = [world_box, block_box, block_lv, block, layer_box, layer_lv, layers]
    keep += [row_box, row_lv, rows, cell_box, cell_lv, cells]
    return CalorimeterVolumes(world, world_lv, cell_lv, upstream_mm, keep)


def locate_cells(
    volumes: CalorimeterVolumes,
    detector: Detector,
    x_mm: npt.ArrayLike,
    y_mm: npt.ArrayLike,
    z_mm: npt.ArrayLike,
) -> npt.NDArray[np.int64]:
    """Flat cell indices that Geant4's navigator finds at mucalo positions (x, y, z) mm; −1 outside the block.

    These are the indices the scorer files deposits under (replica numbers at depths 2, 1, 0), so this
    checks the geometry and its numbering end to end. For a geometry that no run manager has closed:
    the navigator needs it closed, and it is opened again afterwards.
    """
    g4 = import_geant4()
    points = np.broadcast_arrays(*(np.asarray(a, np.float64) for a in (x_mm, y_mm, z_mm)))
    manager = g4.G4GeometryManager.GetInstance()
    manager.CloseGeometry(False, False, volumes.world)
    try:
        navigator = g4.G4Navigator()
        navigator.SetWorldVolume(volumes.world)
        cell_name = volumes.cell_volume.GetName()
        found = []
        for x, y, z in zip(*(a.ravel().tolist() for a in points), strict=True):
            point = g4.G4ThreeVector(x, y, to_geant4_z(detector, z))
            volume = navigator.LocateGlobalPointAndSetup(point, None, False, True)
            if volume is None or volume.GetLogicalVolume().GetName() != cell_name:
                found.append(-1)
                continue
            touchable = navigator.CreateTouchableHistory()
            layer, ix, iy = (touchable.GetReplicaNumber(depth) for depth in (2, 1, 0))
            found.append((layer * detector.n_cells_x + ix) * detector.n_cells_y + iy)
    finally:
        manager.OpenGeometry(volumes.world)
    return np.asarray(found, np.int64).reshape(points[0].shape)


def make_detector_construction(detector: Detector, *, upstream_mm: float) -> Any:
    """A G4VUserDetectorConstruction: the calorimeter, its scorer, the exit monitor and the field.

    After Geant4 has called ``ConstructSDandField``, the returned object has ``exit_monitor`` (see
    :func:`_exit_monitor_class`) and ``volumes`` attributes.
    """
    g4 = import_geant4()
    monitor_class = _exit_monitor_class()

    class _Construction(g4.G4VUserDetectorConstruction):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.volumes: CalorimeterVolumes | None = None
            self.exit_monitor: Any = None
            self._keep: list[Any] = []

        def Construct(self) -> Any:
            self.volumes = build_calorimeter(detector, upstream_mm=upstream_mm)
            return self.volumes.world

        def ConstructSDandField(self) -> None:
            assert self.volumes is not None  # Geant4 calls Construct first
            sd_manager = g4.G4SDManager.GetSDMpointer()
            scorer_name, quantity = SCORER_COLLECTION.split("/")
            calorimeter = g4.G4MultiFunctionalDetector(scorer_name)
            sd_manager.AddNewDetector(calorimeter)
            shape = (detector.n_layers, detector.n_cells_x, detector.n_cells_y)
            deposit = g4.G4PSEnergyDeposit3D(quantity, *shape, 2, 1, 0)
            calorimeter.RegisterPrimitive(deposit)
            self.SetSensitiveDetector(self.volumes.cell_volume, calorimeter)
            self.exit_monitor = monitor_class("world_exit")
            sd_manager.AddNewDetector(self.exit_monitor)
            self.SetSensitiveDetector(self.volumes.world_volume, self.exit_monitor)
            self._keep += [calorimeter, deposit]
            if detector.field_t != 0:
                field = g4.G4UniformMagField(g4.G4ThreeVector(0.0, detector.field_t * g4.tesla, 0.0))
                manager = g4.G4TransportationManager.GetTransportationManager().GetFieldManager()
                manager.SetDetectorField(field)
                manager.CreateChordFinder(field)
                self._keep.append(field)

    return _Construction()


def _exit_monitor_class() -> type:
    """The sensitive detector on the world volume: muon exit energy and energy leaving the world.

    Only steps in the vacuum world call it (the muon's approach and exit, and secondaries that leave the
    block), so its Python cost per event is small, unlike a stepping action. A track whose step ends on
    the world boundary leaves the simulation with its kinetic energy: the primary's is its exit energy,
    the others add to ``escaped_mev``.
    """
    g4 = import_geant4()

    class _ExitMonitor(g4.G4VSensitiveDetector):  # type: ignore[misc,name-defined]
        def __init__(self, name: str) -> None:
            super().__init__(name)
            self.muon_exit_mev = 0.0
            self.escaped_mev = 0.0

        def Initialize(self, hits: Any) -> None:  # called by Geant4 at the start of each event
            self.muon_exit_mev = 0.0  # stays 0 when the muon stops inside
            self.escaped_mev = 0.0

        def ProcessHits(self, step: Any, history: Any) -> bool:
            post = step.GetPostStepPoint()
            if post.GetStepStatus() == g4.fWorldBoundary:
                if step.GetTrack().GetParentID() == 0:
                    self.muon_exit_mev = post.GetKineticEnergy()
                else:
                    self.escaped_mev += post.GetKineticEnergy()
            return True

    return _ExitMonitor
