"""Write-back of a reading session (pure: no Textual): the key images flagged as a Key
Object Selection document (KOS) and the measurements as Grayscale Softcopy Presentation
States (GSPS, one per series), built with highdicom (:mod:`tuipacs.writeback.build`); the
key images of a study read back from the KOS objects in the archive
(:mod:`tuipacs.writeback.keyimages`); both objects stored through the archive's normal
import path and sent to the study's node (:mod:`tuipacs.writeback.store`).

highdicom is heavy: every module imports it inside the functions that need it."""
