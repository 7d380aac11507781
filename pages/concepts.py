"""What the decision depends on: interventions (remove an action unit, draw the clip again) against TCAV's concept
scores and the corpus's own recipe for each class. Layout only: the numbers come from lab.intervene and lab.concepts."""
import pandas as pd
import streamlit as st

from app import ui
from lab import concepts, glossary, sources, whatif

LAYERS = {"spatial": "spatial stream", "temporal": "temporal stream", "fusion": "after the attention module"}

st.title("What the decision depends on")
st.caption("Which facial movements (action units, AUs) each expression's answer really rests on. Read the sentences "
           "first. They come from **interventions**: one movement is removed from a test clip and the clip drawn "
           "again, same person, motion and light, and the fall of the answer is what the model uses. Below, a "
           "second method, **TCAV**, which only looks for a correlation inside the network, is checked against them, "
           "and the table lists every movement beside the corpus's own recipe for the class.",
           help=glossary.markdown(("AU (action unit)", "Intervention", "TCAV", "EMFACS prototype")))
chosen = ui.selection()
ui.require_checkpoint(chosen)

tcav_file = sources.results_file("concepts", chosen.checkpoint_name)
dependence_file = sources.results_file("interventions", chosen.checkpoint_name)
missing = [f for f in (tcav_file, dependence_file) if not f.is_file()]
if missing:
    st.info(f"No precomputed results for {chosen.checkpoint_name}. Compute them with `python -m cli.intervene "
            f"--checkpoint CKPT --data data/corpus --split Test --count 70 --out effects.csv --summary "
            f"{dependence_file}` and `python -m cli.concepts --checkpoint CKPT --data data/corpus --out {tcav_file}`.")
    st.stop()

comparison = concepts.compare_with_interventions(pd.read_csv(tcav_file), pd.read_csv(dependence_file))
layers = [layer for layer in LAYERS if layer in comparison]
st.subheader("What each class depends on")
st.container(key="class_sentences").markdown("\n".join(f"- {concepts.class_sentence(comparison, name)}"
                                                      for name in ui.CLASSES if name in set(comparison["class"])))
st.caption("From the interventions on Test clips: how much of the true class's probability is lost when the action "
           "unit is removed and the clip drawn again. The table below has every action unit.")
st.subheader("Do TCAV and the interventions agree?")
for column, layer in zip(st.columns(len(layers)), layers):
    found = concepts.agreement(comparison, layer)
    column.metric(f"TCAV {LAYERS[layer]}", f"{found['found']:.0%} found",
                  f"{found['confirmed']:.0%} of its AUs confirmed", delta_color="off", delta_arrow="off",
                  help=f"Of the (class, AU) pairs where removing the AU lowers the class by at least "
                       f"{concepts.DEPENDS:.0%} on average, the share TCAV finds rising; and of the pairs TCAV finds "
                       f"rising, the share the interventions confirm ({found['pairs']} pairs measured by both).")

st.subheader("Class by class")
name = st.selectbox("Class", [c for c in ui.CLASSES if c in set(comparison["class"])], key="concepts_class")
rows = comparison[comparison["class"] == name]
shown = pd.DataFrame({
    "action unit": rows["concept"].map(whatif.au_label),
    "in the recipe": rows["prototype"].replace("", "no"),
    "lost when removed": rows["drop"],
    "answer changed": rows["changes"],
    "clips": rows["clips"],
    **{f"TCAV, {layer}": rows[layer].fillna("no concept").replace("", "no") for layer in layers},
})
st.dataframe(shown, hide_index=True, column_config={  # short headers, the long names as help: whole at 1280 px
    "lost when removed": st.column_config.ProgressColumn(
        format="percent", min_value=0, max_value=1, help="The class probability lost when the AU is removed"),
    "answer changed": st.column_config.NumberColumn(format="percent", width="small", help="Share of the clips "
                                                    "whose prediction changes when the AU is removed"),
    "clips": st.column_config.NumberColumn(width="small", help="Test clips that show the AU, over which the loss is "
                                                               "averaged"),
    "in the recipe": st.column_config.TextColumn(width="small"),
    **{f"TCAV, {layer}": st.column_config.TextColumn(width="small", help=f"TCAV at the {LAYERS[layer]}; "
                                      "'no': its score does not differ from random concepts' (t-test, 5% level)")
       for layer in layers}})
st.caption("An AU the class depends on but TCAV misses, or one TCAV finds that removing changes nothing: the two "
           "methods disagree there, and the intervention is the measurement. AUs that never form a TCAV concept "
           "(blinks are only ever nuisance in the corpus) show as 'no concept'; 'no' is a concept whose TCAV score is "
           "not significant.")
